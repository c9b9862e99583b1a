"""Every error the API returns is JSON `{"detail", "request_id"}` with an `X-Request-ID` header.

`RequestContext` is the outermost middleware: it gives each request an id (a client's own `X-Request-ID`
when it is short and plain, else a fresh one), stamps it on every response, and turns an exception that
escaped everything else into a 500 JSON body. Starlette's own 500 handler re-raises to the server, whose
traceback would then print exception messages that can carry the question; here the log line names only
the route, the request id and the exception type.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.store import store_unreachable

log = logging.getLogger("bots.api")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_ECHO_CHARS = 100
"""A 422 may quote a short offending value (a bad enum, a wrong type); longer ones are cut to this."""


def request_id(scope: Scope) -> str:
    """The id `RequestContext` gave this request ("-" outside it, e.g. in a bare test app)."""
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


def error_body(scope: Scope, detail: Any) -> dict[str, Any]:
    return {"detail": detail, "request_id": request_id(scope)}


async def send_json_error(
    scope: Scope, send: Send, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> None:
    """Answer from a pure ASGI middleware, before any route (or body parsing) runs."""
    body = json.dumps(error_body(scope, detail)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    """Request id in, `X-Request-ID` out, and a JSON 500 for anything nothing else caught."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _CLIENT_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            route = _route_template(scope)
            # Deliberately no traceback and no str(exc): either can quote the body or the question.
            log.error("request %s to %s failed: %s", rid, route, type(exc).__name__)
            if started:
                return  # headers are out; the server closes the connection
            status, detail, headers = _unhandled(exc)
            await send_json_error(scope, send_with_id, status, detail, headers)


def _unhandled(exc: Exception) -> tuple[int, str, dict[str, str]]:
    if store_unreachable(exc):
        return (
            503,
            "The document index (Chroma server) is unreachable right now; try again shortly.",
            {"Retry-After": "5"},
        )
    return 500, "Internal server error: the request could not be completed.", {}


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or "<unmatched>")


def _clean_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors without the input that caused them (it can be a 64 KB question or patient
    details); only short scalar context (limits, allowed values) is kept."""
    out: list[dict[str, Any]] = []
    for err in errors:
        item: dict[str, Any] = {
            "type": err.get("type"),
            "loc": list(err.get("loc", ())),
            "msg": _short(str(err.get("msg", ""))),
        }
        ctx = {
            k: v
            for k, v in (err.get("ctx") or {}).items()
            if isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= MAX_ECHO_CHARS)
        }
        if ctx:
            item["ctx"] = ctx
        out.append(item)
    return out


def _short(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def add_error_handlers(app: FastAPI) -> None:
    """HTTP errors and validation errors in the one JSON shape, request id included."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's 400 "error parsing the body" for bytes that are not UTF-8: the same bad-JSON 422
            # as a syntax error gets, so a client meets one shape for one mistake.
            issue = {"type": "json_invalid", "loc": ["body"], "msg": "The body is not valid UTF-8 JSON."}
            return JSONResponse(error_body(request.scope, [issue]), status_code=422)
        return JSONResponse(
            error_body(request.scope, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body(request.scope, _clean_errors(exc.errors())), status_code=422)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
