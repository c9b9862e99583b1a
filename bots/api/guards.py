"""Checks that run before any route reads a byte of the body: credentials, then body size.

FastAPI reads and parses a request body before it resolves a route's dependencies, so a dependency that
checks an API key runs only after a client has made us receive (and hold) whatever it sent. These pure
ASGI middlewares look at the headers first and count the body as it streams in, so neither a request
without a key nor an oversized one is ever read in full. The route dependencies in `deps.py` still check
the same credentials (and document them in OpenAPI); this is the gate in front of them.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.config import Settings
from bots.api.deps import ADMIN_DETAIL, API_KEY_DETAIL, admin_token_ok, api_key_ok
from bots.api.errors import send_json_error
from bots.api.ratelimit import SlidingWindowLimiter

ADMIN_PREFIX = "/v1/admin"
CLIENT_PREFIX = "/v1/"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def peer_ip(scope: Scope) -> str:
    """The client address as the server (and, when configured, the trusted-proxy middleware) saw it."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AuthGate:
    """401 (or 404 for admin routes when admin is off) before the body is read; 429 for an address that
    keeps failing, so keys and admin tokens cannot be guessed at thousands a second."""

    def __init__(self, app: ASGIApp, settings: Settings, failures: SlidingWindowLimiter) -> None:
        self.app = app
        self.settings = settings
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(CLIENT_PREFIX):
            await self.app(scope, receive, send)
            return
        is_admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        api = self.settings.api
        if is_admin and not api.admin_token:
            await send_json_error(scope, send, 404, "Not Found")
            return
        if not is_admin and not api.keys:
            await self.app(scope, receive, send)
            return

        ip = peer_ip(scope)
        wait_s = self.failures.blocked(ip)
        if wait_s is not None:
            await send_json_error(
                scope,
                send,
                429,
                "Too many failed authentication attempts from this address. Try again later.",
                {"Retry-After": self.failures.retry_after_header(wait_s)},
            )
            return
        if is_admin:
            ok = admin_token_ok(api.admin_token, _header(scope, b"authorization"))
        else:
            ok = api_key_ok(api.keys, _header(scope, b"x-api-key"))
        if ok:
            await self.app(scope, receive, send)
            return
        self.failures.hit(ip)
        detail, scheme = (ADMIN_DETAIL, "Bearer") if is_admin else (API_KEY_DETAIL, "ApiKey")
        await send_json_error(scope, send, 401, detail, {"WWW-Authenticate": scheme})


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit; FastAPI passes HTTPExceptions through its
    body parsing unchanged, so the client gets the 413 rather than a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the {_size(limit)} limit.")


class BodyLimit:
    """413 for a body over its route's limit: at once from `Content-Length`, or as soon as a streamed
    (chunked) body passes it, so at most `limit` bytes plus one network read are ever held."""

    def __init__(self, app: ASGIApp, default_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.default_bytes)
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_json_error(
                scope, send, 413, f"The request body is larger than the {_size(limit)} limit."
            )
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:
            # Reached only when the body was read outside FastAPI's parsing (which answers by itself).
            if not started:
                await send_json_error(scope, send, 413, exc.detail)


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10} KB"
