"""Shared fixtures: the real packaged model (loaded once per session) and real embedded Chroma stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.embeddings import Embedder, embedder_for, get_embedder
from assistant.service import AnswerService
from ingest.indexer import Indexer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests import fixtures_docs / fake_slack

MODEL_CACHE = ROOT / "var" / "test-models"
"""One ONNX export for the whole suite, and every later run (it is keyed by the weights' checksum): each
test's fresh data dir would otherwise export the model again."""
os.environ["PMA_EMBEDDING__CACHE_DIR"] = str(MODEL_CACHE)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI or server a test starts: no `PMA_*` setting leaks in from the shell
    running the tests, except the shared model cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_")}
    env["PMA_EMBEDDING__CACHE_DIR"] = str(MODEL_CACHE)
    env.update(extra)
    return env


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    settings = Settings(data_dir=data_dir)
    settings.retrieval.glossary_path = str(CORPUS / "glossary.yml")
    for key, value in overrides.items():
        group, _, name = key.partition("__")
        if name:
            setattr(getattr(settings, group), name, value)
        else:
            setattr(settings, key, value)
    return settings


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    """An error body with its `request_id` checked against the `X-Request-ID` header and taken out, so
    errors from different requests (which carry different ids) can be compared with each other."""
    body: dict[str, Any] = dict(response.json())
    assert body.pop("request_id") == response.headers["x-request-id"]
    return body


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The embedder a default `Settings` serves with (int8 ONNX where it works)."""
    return embedder_for(make_settings(tmp_path_factory.mktemp("embedder-data")))


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    """The PyTorch model itself, for comparisons with the ONNX copy."""
    return get_embedder()


@pytest.fixture(scope="session")
def corpus_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """An AnswerService over the shipped corpus, ingested once per session."""
    settings = make_settings(tmp_path_factory.mktemp("corpus-data"))
    service = AnswerService(settings, embedder=embedder)
    Indexer(settings, service.store).run([CORPUS])
    service.warm_up()
    return service


ServiceFactory = Callable[..., AnswerService]


@pytest.fixture
def service_factory(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> ServiceFactory:
    """Build a fresh service over a small corpus: `service_factory([(path, text), ...], **settings)`."""

    def build(docs: list[tuple[str, str]] | None = None, **overrides: object) -> AnswerService:
        base = tmp_path_factory.mktemp("svc")
        corpus = base / "corpus"
        corpus.mkdir()
        for rel, text in docs or []:
            target = corpus / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        settings = make_settings(base / "data", **overrides)
        service = AnswerService(settings, embedder=embedder)
        if docs:
            Indexer(settings, service.store).run([corpus])
        service.corpus_dir = corpus  # type: ignore[attr-defined]
        return service

    return build


EVAL_DIR = ROOT / "tests" / "eval"
EVAL_DOCUMENTS = EVAL_DIR / "documents"


@pytest.fixture(scope="session")
def eval_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """The store the evaluation splits are about, built as `make eval-store` builds it: the shipped corpus
    and the long-form evaluation documents, each ingested from its own folder."""
    settings = make_settings(tmp_path_factory.mktemp("eval-data"))
    service = AnswerService(settings, embedder=embedder)
    report = Indexer(settings, service.store).run([CORPUS, EVAL_DOCUMENTS])
    assert not report.failed, report.failed
    service.warm_up()
    return service


# --- PostgreSQL (PMA_TEST_POSTGRES_URL, started by .ci/run) -----------------------------------------------

POSTGRES_ENV = "PMA_TEST_POSTGRES_URL"


def missing_service(message: str) -> None:
    """Under CI a test whose server or browser is missing fails (it would silently not run); locally it
    is skipped with the message."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _postgres_unavailable(reason: str) -> None:
    missing_service(f"PostgreSQL tests need {POSTGRES_ENV} (see .ci/run): {reason}")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    """The browser the Playwright tests drive (they fail under CI, and skip locally, without it)."""
    need_chromium()
    return CHROMIUM


def need_chromium() -> None:
    if not CHROMIUM.exists():
        missing_service(
            "Chromium not installed at /usr/bin/chromium (apt-get install chromium; .ci/run does)"
        )


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of the throw-away PostgreSQL server `.ci/run` starts (a database the tests may use freely)."""
    import os

    import sqlalchemy as sa

    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _postgres_unavailable("it is not set")
    assert url is not None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        _postgres_unavailable(f"{url} is unreachable ({type(exc).__name__}: {exc})")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server for one test, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    name = f"pma_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
