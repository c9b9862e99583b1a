"""Request dependencies as `Annotated` aliases, so routes declare what they need in their signature.

Everything comes from `request.app.state` (set by `create_app`) rather than module globals, so several
apps with different services and settings can live in one process (tests do exactly that).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from assistant.config import Settings
from assistant.owners import api_key_owner, session_owner
from assistant.service import AnswerService
from bots.api.metrics import Metrics
from bots.api.ratelimit import RateLimiter
from bots.api.session import NEW_SESSION_STATE, SESSION_COOKIE, SessionCookies


def get_service(request: Request) -> AnswerService:
    """The one `AnswerService` the app was built with."""
    service: AnswerService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    """The settings the app was built with (not re-read from the environment)."""
    settings: Settings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> Metrics:
    """This app's metrics (a per-app Prometheus registry)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


ServiceDep = Annotated[AnswerService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

# auto_error=False: we decide the status ourselves (401 with a useful message, 404 for disabled admin),
# while OpenAPI still documents the schemes so /docs offers an "Authorize" button.
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed only when PMA_API__KEYS is set."
)
_admin_bearer = HTTPBearer(auto_error=False, description="PMA_API__ADMIN_TOKEN")


def _matches_any(candidate: str, secrets_: list[str]) -> bool:
    # Constant-time comparison against every key, so timing does not reveal how much of a key matched.
    found = False
    for secret in secrets_:
        found |= secrets.compare_digest(candidate.encode(), secret.encode())
    return found


async def require_api_key(
    settings: SettingsDep, api_key: Annotated[str | None, Depends(_api_key_header)]
) -> str | None:
    """When client keys are configured, refuse requests without a valid `X-API-Key`; return the key."""
    if not settings.api.keys:
        return None
    if api_key and _matches_any(api_key, settings.api.keys):
        return api_key
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="A valid API key is required in the X-API-Key header.",
        headers={"WWW-Authenticate": "ApiKey"},
    )


ApiKeyDep = Annotated[str | None, Depends(require_api_key)]


def client_ip(request: Request) -> str:
    """The peer address. Behind a reverse proxy run uvicorn with --proxy-headers so this is the client."""
    return request.client.host if request.client else "unknown"


async def rate_limit(request: Request, api_key: ApiKeyDep) -> None:
    """Per-key (or, without keys, per-IP) sliding window; 429 with `Retry-After` when exceeded."""
    limiter: RateLimiter = request.app.state.limiter
    # Buckets name keys by their hash: a shared (database) limiter stores buckets, and keys are never stored.
    bucket = api_key_owner(api_key) if api_key else f"ip:{client_ip(request)}"
    wait_s = limiter.hit(bucket)
    if wait_s is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many requests: the limit is {limiter.limit} a minute. Try again shortly.",
            headers={"Retry-After": limiter.retry_after_header(wait_s)},
        )


async def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)],
) -> None:
    """Admin routes exist only when an admin token is configured (404 otherwise), and need it (401)."""
    token = settings.api.admin_token
    if not token:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Not Found")
    if credentials is None or not _matches_any(credentials.credentials, [token]):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Admin routes need 'Authorization: Bearer <PMA_API__ADMIN_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


def get_channel(request: Request) -> Literal["web", "api"]:
    """The web chat marks its requests so stored turns say where a question came from."""
    return "web" if request.headers.get("x-pma-client") == "web" else "api"


ChannelDep = Annotated[str, Depends(get_channel)]


async def get_owner(request: Request, api_key: ApiKeyDep) -> str:
    """Whose conversations this request may see: its API key's when keys are configured, otherwise the
    browser session in its signed cookie. A caller without a (valid) cookie gets a new session, sent back
    as a cookie with this response; a client that keeps no cookies therefore starts afresh every time and
    can never continue a conversation, which is safe rather than shared."""
    if api_key:
        return api_key_owner(api_key)
    sessions: SessionCookies = request.app.state.sessions
    session_id = sessions.verify(request.cookies.get(SESSION_COOKIE))
    if session_id is None:
        session_id = sessions.new_id()
        setattr(request.state, NEW_SESSION_STATE, sessions.sign(session_id))
    return session_owner(session_id)


OwnerDep = Annotated[str, Depends(get_owner)]
