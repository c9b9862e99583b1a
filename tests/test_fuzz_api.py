"""Schema fuzzing of the HTTP API (issue 11, item 9): every operation in the app's own OpenAPI document,
fed generated valid and invalid requests by schemathesis, must never answer 5xx, and every response must
match what the schema declares for it (status code, content type and body schema).

Run: `.venv/bin/python -m pytest -q tests/test_fuzz_api.py` (about a minute on two busy cores).

What it runs against, and why:
- The real app (`create_app`) over a real embedded Chroma store holding one small document, indexed with
  the real packaged model, served by real uvicorn on 127.0.0.1 with the app's lifespan on (job runner
  started and stopped as `serve` does). An API key and an admin token are set and sent with every case,
  so the `/v1/*` and `/v1/admin/*` routes are exercised past the gate; the rate limits are off (a fuzzer
  is one very fast client, and a 429 would say nothing about the route behind it).
- Nothing is excluded. The destructive admin routes (document and answer deletes, uploads, re-index) run
  against this module's throw-away data dir, which no other test reads. Uploads and re-indexes run in a
  job thread (`PMA_INGEST__ISOLATION=thread`) rather than a second model process: the job path is the
  same, without loading the model twice for a handful of tiny files. The sources file points at a path
  that does not exist, so `POST /v1/admin/sources/sync` answers its declared 409 instead of fetching
  anything from the internet.
- Bounded and deterministic: a fixed seed, `deterministic` generation (derandomised Hypothesis), the
  `examples`, `coverage` and `fuzzing` phases with at most `MAX_EXAMPLES` fuzzed cases an operation, no
  stateful phase. A failure prints the exact request to replay.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import make_settings
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import CheckFunction

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from bots.cli import uvicorn_options
from ingest.indexer import Indexer

KEY = "fuzz-client-key"
ADMIN_TOKEN = "fuzz-admin-token"
AUTH = {"X-API-Key": KEY, "Authorization": f"Bearer {ADMIN_TOKEN}"}
MAX_EXAMPLES = 12
SEED = 20261202

DOC = """---
title: Quillfield surgery rota policy
topic: workforce
published: 2024-03-04
---
Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone
queue every two hours. The practice manager reviews the Quillfield rota policy each April.
"""


def _checks() -> list[CheckFunction]:
    from schemathesis.checks import load_all_checks
    from schemathesis.specs.openapi import checks

    load_all_checks()
    return [
        schemathesis.checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.response_headers_conformance,
    ]


def _serve(app: Any) -> tuple[int, threading.Thread, Any]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {k: v for k, v in uvicorn_options().items() if k != "log_config"}
    server = uvicorn.Server(uvicorn.Config(app, **{**options, "log_level": "warning"}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn exited while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return int(sock.getsockname()[1]), thread, (server, sock)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    base = tmp_path_factory.mktemp("fuzz")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "rota.md").write_text(DOC, encoding="utf-8")
    settings_ = app_settings(base / "data")
    service = AnswerService(settings_, embedder=embedder)
    Indexer(settings_, service.store).run([corpus])
    service.warm_up()
    port, thread, (server, sock) = _serve(create_app(service, settings_))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def app_settings(data_dir: Path) -> Settings:
    """The fuzzed app's settings; the schema is built from an app with the same ones, so the same routes."""
    settings_ = make_settings(data_dir)
    settings_.api.keys = [KEY]
    settings_.api.admin_token = ADMIN_TOKEN
    settings_.api.rate_limit_per_minute = 0
    settings_.api.failed_auth_per_minute = 0
    settings_.ingest.isolation = "thread"
    settings_.sync.sources_path = data_dir.parent / "no-sources.yml"
    return settings_


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, built at collection time so each operation is its own test item.
    (schemathesis's fixture-based lazy loader does not run under pytest 9; the live app's document is
    checked against this one below.) Building it needs only a service object, no index and no model."""
    with tempfile.TemporaryDirectory(prefix="pma-fuzz-schema-") as tmp:
        settings_ = app_settings(Path(tmp) / "data")
        return create_app(AnswerService(settings_), settings_).openapi()


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
    }
)
OPENAPI = openapi_document()
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_survives_generated_requests(case: Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers=AUTH, checks=_checks(), timeout=30)


def test_the_fuzzed_schema_is_the_live_apps(base_url: str) -> None:
    """The cases above come from the document built at collection; the server under test must publish
    the same one, and it must hold every route a client or maintainer uses."""
    live = httpx.get(f"{base_url}/openapi.json", timeout=30)
    assert live.status_code == 200
    assert live.json() == OPENAPI
    assert {"/v1/ask", "/v1/ask/stream", "/v1/search", "/v1/feedback", "/v1/admin/documents"} <= set(
        OPENAPI["paths"]
    )
    assert "/v1/admin/jobs/{job_id}" in OPENAPI["paths"]
