"""Start-up checks for `pm-assistant serve` / `pm-ingest`: fail in one line that says what and where.

Without them a read-only data dir, a Chroma server that is not running or a database that refuses
connections surfaces as a long traceback from deep inside SQLite, chromadb or the driver, naming neither
the path nor the setting to fix. Entry points print `StartupError`'s message and exit with code 2.
"""

from __future__ import annotations

import tempfile

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from assistant.config import Settings

CONNECT_TIMEOUT_S = 5.0


class StartupError(RuntimeError):
    """A dependency the process cannot start without; the message is the whole story, on one line."""


def check_data_dir(settings: Settings) -> None:
    """The data dir (index, app database, uploads) must exist or be creatable, and be writable."""
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupError(
            f"the data dir {path.resolve()} is not writable ({exc.strerror or type(exc).__name__}); "
            "set PMA_DATA_DIR or --data-dir to a writable folder"
        ) from None


def check_chroma(settings: Settings) -> None:
    """A configured Chroma server must answer its heartbeat (embedded Chroma needs only the data dir)."""
    chroma = settings.chroma
    if not chroma.host:
        return
    where = f"{chroma.host}:{chroma.port}"
    scheme = "https" if chroma.ssl else "http"
    try:
        response = httpx.get(f"{scheme}://{where}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise StartupError(
            f"cannot reach the Chroma server at {where} ({type(exc).__name__}); "
            "start it or fix PMA_CHROMA__HOST / PMA_CHROMA__PORT"
        ) from None


def safe_url(url: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def check_database(settings: Settings) -> None:
    """An external app database (`PMA_DATABASE_URL`) must accept a connection."""
    if not settings.database_url:
        return
    url = settings.database_url
    try:
        connect_args = {"connect_timeout": int(CONNECT_TIMEOUT_S)} if url.startswith("postgres") else {}
        engine = sa.create_engine(url, connect_args=connect_args)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        raise StartupError(
            f"cannot connect to the app database at {safe_url(url)} ({type(exc).__name__}); "
            "start it or fix PMA_DATABASE_URL"
        ) from None


def check_all(settings: Settings) -> None:
    check_data_dir(settings)
    check_chroma(settings)
    check_database(settings)
