"""`create_app(service, settings)`: the FastAPI app behind `pm-assistant serve`.

The app holds no globals: the service, settings, metrics registry and rate limiter hang off `app.state`,
so tests (and anyone embedding it) can build several independent apps in one process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.config import Settings
from assistant.service import AnswerService
from assistant.types import QuestionError, UnknownConversation, UnknownMessage
from bots.api.errors import RequestContext, add_error_handlers, error_body
from bots.api.guards import AuthGate, BodyLimit
from bots.api.limits import MULTIPART_OVERHEAD, UploadSizeGuard
from bots.api.metrics import Metrics, MetricsMiddleware
from bots.api.ratelimit import SlidingWindowLimiter, build_limiter
from bots.api.responses import GATE_ERRORS
from bots.api.routes import admin, ask, console, documents, feedback, health, search
from bots.api.session import SessionCookieMiddleware, SessionCookies, session_secret
from bots.web import STATIC_DIR

# The chat page may load only its own files and talk only to this server: even if a renderer bug let
# corpus text become markup, the browser would still refuse inline scripts and remote resources.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

DESCRIPTION = """Cited answers for UK GP practice managers from a curated corpus.

`/v1/*` needs an `X-API-Key` header when `PMA_API__KEYS` is set; admin routes need
`Authorization: Bearer <PMA_API__ADMIN_TOKEN>` and do not exist when no admin token is set."""


def create_app(service: AnswerService, settings: Settings | None = None) -> FastAPI:
    """Build the HTTP API and web chat around one `AnswerService`.

    `settings` defaults to the service's own, so both always agree unless a caller means otherwise.
    """
    settings = settings or service.settings
    app = FastAPI(
        title="Practice Manager Assistant",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan(service),
    )
    app.state.service = service
    app.state.settings = settings
    app.state.metrics = metrics = Metrics()
    app.state.limiter = build_limiter(settings, service.history, settings.api.rate_limit_per_minute)
    # Failed credentials are counted per address in this process (a guessing client hits one process
    # hard; the limit stops it there before the body is read).
    app.state.auth_failures = SlidingWindowLimiter(settings.api.failed_auth_per_minute, window_s=60.0)
    app.state.sessions = sessions = SessionCookies(
        session_secret(settings), settings.api.session_max_age_days
    )
    if service.writer is not None:
        metrics.watch_llm(service.writer.stats)

    _add_error_handlers(app)
    for module in (ask, search, feedback, documents, admin, console):
        app.include_router(module.router, responses=GATE_ERRORS)
    app.include_router(health.router)
    _add_web(app)

    if settings.slack.http_enabled:
        # Imported only when wanted: the API must work without the Slack package's extra setup.
        from bots.slack.http import slack_router

        app.include_router(slack_router(service, settings))

    # Last added runs first: the request id wraps everything; metrics see every response, including
    # the gates' early 401/411/413s; credentials are checked before the body size, and both before a
    # read. An upload's declared size meets the upload guard (whose 413 names PMA_API__MAX_UPLOAD_MB)
    # before the general body limit, which still counts a streamed upload as it arrives.
    upload_bytes = settings.api.max_upload_mb << 20
    app.add_middleware(SessionCookieMiddleware, cookies=sessions)
    app.add_middleware(
        BodyLimit,
        default_bytes=settings.api.max_body_kb << 10,
        per_path={admin.UPLOAD_PATH: upload_bytes + MULTIPART_OVERHEAD},
    )
    app.add_middleware(UploadSizeGuard, path=admin.UPLOAD_PATH, max_bytes=upload_bytes)
    app.add_middleware(AuthGate, settings=settings, failures=app.state.auth_failures)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.api.trusted_proxies:
        # Only these peers may say who the client is; everyone else's X-Forwarded-For is ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.api.trusted_proxies)
    app.add_middleware(RequestContext)
    return app


def _lifespan(service: AnswerService) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """At start, ingest jobs a killed server left behind are marked interrupted and run again; while the
    server runs, web guidance is synced on a timer (`PMA_SYNC__INTERVAL_HOURS`, off by default)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from ingest.schedule import start_sync_schedule

        runner = service.jobs()
        await run_in_threadpool(runner.recover)
        stop = start_sync_schedule(app.state.service, app.state.settings)
        try:
            yield
        finally:
            stop()
            service.stop_jobs()

    return lifespan


def _add_error_handlers(app: FastAPI) -> None:
    """Map the service's own exceptions to HTTP, so routes never need try/except for them."""
    add_error_handlers(app)

    async def question_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(request.scope, str(exc)), status_code=422)

    async def unknown_message(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body(request.scope, str(exc) or "Unknown message id."),
            status_code=status.HTTP_404_NOT_FOUND,
        )

    async def unknown_conversation(request: Request, _: Exception) -> JSONResponse:
        # Word for word the 404 of GET /v1/conversations/{id}: unknown and not-yours must look the same.
        return JSONResponse(
            error_body(request.scope, "Unknown conversation."), status_code=status.HTTP_404_NOT_FOUND
        )

    app.add_exception_handler(QuestionError, question_error)
    app.add_exception_handler(UnknownMessage, unknown_message)
    app.add_exception_handler(UnknownConversation, unknown_conversation)


def _add_web(app: FastAPI) -> None:
    """Serve the chat page at `/` and its assets at `/static/` (no build step, no external requests)."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_SECURITY_HEADERS)

    @app.get("/admin", include_in_schema=False)
    async def admin_console() -> FileResponse:
        # The page itself is public; everything it shows comes from token-protected /v1/admin/* routes.
        return FileResponse(STATIC_DIR / "admin.html", headers=PAGE_SECURITY_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
