"""Refuse oversized uploads before their body is read.

FastAPI parses a multipart body (spooling it to disk) before any dependency runs, so neither the admin
check nor the route's own size check can stop a client from making us store a huge body first. This
middleware looks at `Content-Length` up front; the route still checks the real file size exactly.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from bots.api.errors import send_json_error

MULTIPART_OVERHEAD = 64 * 1024
"""Room for multipart boundaries and part headers on top of the file itself."""


class UploadSizeGuard:
    """413 for a POST to `path` declaring more than `max_bytes`; 411 if it declares no length at all."""

    def __init__(self, app: ASGIApp, path: str, max_bytes: int) -> None:
        self.app = app
        self.path = path
        self.max_bytes = max_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            length = dict(scope["headers"]).get(b"content-length")
            if length is None:
                await send_json_error(scope, send, 411, "Uploads need a Content-Length header.")
                return
            if not length.isdigit() or int(length) > self.max_bytes:
                await send_json_error(
                    scope, send, 413, "File is larger than the upload limit (PMA_API__MAX_UPLOAD_MB)."
                )
                return
        await self.app(scope, receive, send)
