"""Signed session cookies: who an anonymous browser is, so its conversations stay its own.

Without API keys, the owner of an HTTP caller's conversations is the random session id in its
`pma_session` cookie. The cookie is signed (itsdangerous, HMAC-SHA1 over the id and a timestamp) with
`PMA_API__SESSION_SECRET`, or with a secret generated once and kept in the data dir; a cookie that does not
verify, or is older than `PMA_API__SESSION_MAX_AGE_DAYS`, is ignored and the caller gets a new session.
The cookie is HttpOnly (page scripts never see it), SameSite=Lax (other sites' pages can't send it with a
POST) and Secure whenever the request came over https.
"""

from __future__ import annotations

import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

from itsdangerous import BadSignature, TimestampSigner
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.config import Settings

SESSION_COOKIE = "pma_session"
SECRET_FILE = "session-secret"
NEW_SESSION_STATE = "pma_new_session_cookie"
"""Where a request's dependencies leave a freshly signed cookie for the middleware to send."""


def session_secret(settings: Settings) -> str:
    """The configured secret, or the one kept in the data dir (created on first use, mode 0600).

    Several processes sharing a data dir agree on it (the first to create the file wins); processes with
    separate data dirs must be given the same `PMA_API__SESSION_SECRET`, or each rejects the others'
    cookies."""
    if settings.api.session_secret is not None:
        return settings.api.session_secret.get_secret_value()
    path = Path(settings.data_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret)
    return secret


class SessionCookies:
    """Mint, sign and verify session ids."""

    def __init__(self, secret: str, max_age_days: int) -> None:
        self._signer = TimestampSigner(secret, salt="pma-session")
        self.max_age_s = max_age_days * 86_400

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(24)

    def sign(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode("ascii")

    def verify(self, cookie: str | None) -> str | None:
        """The session id in a genuine, unexpired cookie; None for a missing or tampered one."""
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie, max_age=self.max_age_s).decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    def set_cookie_header(self, value: str, *, secure: bool) -> bytes:
        cookie: SimpleCookie = SimpleCookie()
        cookie[SESSION_COOKIE] = value
        morsel = cookie[SESSION_COOKIE]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        morsel["max-age"] = str(self.max_age_s)
        if secure:
            morsel["secure"] = True
        return morsel.OutputString().encode("latin-1")


class SessionCookieMiddleware:
    """Sends the cookie a dependency minted for this request (`get_owner`), on whatever response follows,
    streamed or not. Requests that never needed an owner get no cookie."""

    def __init__(self, app: ASGIApp, cookies: SessionCookies) -> None:
        self.app = app
        self.cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(NEW_SESSION_STATE):
                header = self.cookies.set_cookie_header(
                    state.pop(NEW_SESSION_STATE), secure=scope.get("scheme") == "https"
                )
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", header)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
