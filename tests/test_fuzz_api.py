"""Schema fuzzing of the HTTP API (issue 11, item 9): every operation in the app's own OpenAPI document,
fed generated valid and invalid requests by schemathesis, must never answer 5xx, and every response must
match what the schema declares for it (status code, content type and body schema).

Run: `.venv/bin/python -m pytest -q tests/test_fuzz_api.py` (about 30-40 s on two busy cores).

What it runs against, and why:
- The real app (`create_app`) over a real embedded Chroma store holding one small document, indexed with
  the real packaged model, served by real uvicorn on 127.0.0.1 (real HTTP: fast enough, and the gates
  in front of the routes see real sockets) with the app's lifespan on, so the job runner starts and
  stops as under `serve`. An API key and an admin token are set and sent with every case, so the
  `/v1/*` and `/v1/admin/*` routes are exercised past the gate (schemathesis still drops a credential
  in some coverage cases, to see the documented 401); the rate limits are off (a fuzzer is one very
  fast client, and a 429 would say nothing about the route behind it).
- Nothing is excluded. The destructive admin routes (document and answer deletes, uploads, re-index)
  run against this module's throw-away data dir, which no other test reads. Uploads and re-indexes run
  in a job thread (`PMA_INGEST__ISOLATION=thread`) rather than a second model process: the same job
  path, without loading the model twice for a few tiny files. The sources file does not exist while
  fuzzing, so `POST /v1/admin/sources/sync` answers its declared 409 and fetches nothing from the
  internet; a later test writes it, naming one page on a web server on loopback.
- Generated ids almost never exist, so routes taking an id are also called with real ones (a
  conversation, a message, a job, an upload, an approved answer) and those 2xx bodies are held to the
  schema the same way; the last test checks every operation answered 2xx at least once.
- Bounded and deterministic: a fixed seed, `deterministic` generation (derandomised Hypothesis), the
  `examples`, `coverage` and `fuzzing` phases with at most `MAX_EXAMPLES` fuzzed cases an operation,
  positive and negative (invalid) data, no stateful phase. A failure prints a curl command to replay.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import make_settings
from fixtures_docs import ROTA_DOC
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import CheckFunction
from web_server import Site

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from bots.cli import uvicorn_options
from ingest.indexer import Indexer

KEY = "fuzz-client-key"
ADMIN_TOKEN = "fuzz-admin-token"
AUTH = {"X-API-Key": KEY, "Authorization": f"Bearer {ADMIN_TOKEN}"}
MAX_EXAMPLES = 50
SEED = 20261202
SEEN: dict[str, Counter[int]] = {}
"""Status codes each operation answered during the fuzz run (checked by the last test)."""


NOTE = """# Quillfield car park

The Quillfield surgery car park closes at six in the evening, and staff park in the rear bays so that
patients can use the spaces nearest the entrance during morning clinics.
"""

PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Quillfield parking</title></head>"
    "<body><main><article><h1>Quillfield parking</h1><p>"
    + NOTE.split("\n\n")[1].replace("\n", " ")
    + "</p><p>Visitors with a blue badge may use the two bays beside the ramp at any time of day, and the"
    " reception team keeps a list of the bays that are free during the afternoon clinics.</p>"
    "</article></main></body></html>"
)


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
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The throw-away folder of the app under test: corpus/, data/, and (later) sources.yml."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def base_url(fuzz_root: Path, embedder: Embedder) -> Iterator[str]:
    base = fuzz_root
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "rota.md").write_text(ROTA_DOC, encoding="utf-8")
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
    settings_.sync.sources_path = data_dir.parent / "sources.yml"  # written by the last test
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
    response = case.call_and_validate(base_url=base_url, headers=AUTH, checks=_checks(), timeout=30)
    SEEN.setdefault(case.operation.label, Counter())[response.status_code] += 1


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


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/feedback", "/v1/admin/answers"])
def test_a_body_that_is_not_utf8_is_the_same_422_as_bad_json(base_url: str, path: str) -> None:
    """Found by the fuzz run: bytes that are not UTF-8 were FastAPI's undocumented 400 "error parsing the
    body", while a JSON syntax error is a 422; both are now the 422."""
    headers = {**AUTH, "Content-Type": "application/json"}
    for raw in (b'{"question": "\xff\xfe"}', b"{not json"):
        response = httpx.post(base_url + path, content=raw, headers=headers, timeout=30)
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["request_id"] == response.headers["x-request-id"]
        assert [issue["type"] for issue in body["detail"]] == ["json_invalid"]


def _validated(base_url: str, method: str, path: str, status: int, **request: Any) -> httpx.Response:
    """Send one request with httpx and hold its response to the schema, as the fuzz cases are."""
    path_parameters = request.pop("path_parameters", {})
    response = httpx.request(
        method, base_url + path.format(**path_parameters), headers=AUTH, timeout=60, **request
    )
    assert response.status_code == status, response.text
    response.request.read()  # a multipart body is streamed; the checks read what was sent
    operation = schema[path][method]
    case = operation.Case(path_parameters=path_parameters, query=request.get("params"))
    case.validate_response(response, checks=_checks(), headers=AUTH)
    SEEN.setdefault(operation.label, Counter())[response.status_code] += 1
    return response


def test_routes_taking_ids_answer_real_ids_as_their_schema_says(base_url: str, fuzz_root: Path) -> None:
    """Generated ids almost never exist, so the fuzz run sees these routes' 404s; here each is called
    with an id the app itself handed out (a conversation, a message, a job, an upload, an approved
    answer), and its 2xx body must match the schema too."""
    asked = _validated(
        base_url, "POST", "/v1/ask", 200, json={"question": "How often do Quillfield reception staff rotate?"}
    ).json()
    assert asked["grounded"], asked
    conv = {"conversation_id": asked["conversation_id"]}
    _validated(base_url, "GET", "/v1/conversations/{conversation_id}", 200, path_parameters=conv)
    _validated(
        base_url, "POST", "/v1/feedback", 201, json={"message_id": asked["message_id"], "rating": "up"}
    )

    upload = _validated(
        base_url,
        "POST",
        "/v1/admin/documents",
        201,
        params={"wait": "true"},
        files={"file": ("fuzz-note.md", NOTE.encode())},
    ).json()
    _validated(base_url, "GET", "/v1/admin/jobs/{job_id}", 200, path_parameters={"job_id": upload["job_id"]})
    _validated(
        base_url, "DELETE", "/v1/admin/documents/{source}", 200, path_parameters={"source": upload["source"]}
    )

    approved = {
        "question": "When does the Quillfield car park close?",
        "answer": "At six [1].",
        "sources": ["rota.md"],
    }
    created = _validated(base_url, "POST", "/v1/admin/answers", 201, json=approved).json()
    ident = {"answer_id": created["id"]}
    _validated(base_url, "GET", "/v1/admin/answers/{answer_id}", 200, path_parameters=ident)
    _validated(
        base_url,
        "PUT",
        "/v1/admin/answers/{answer_id}",
        200,
        path_parameters=ident,
        json={**approved, "answer": "At six o'clock [1]."},
    )
    _validated(base_url, "DELETE", "/v1/admin/answers/{answer_id}", 200, path_parameters=ident)

    # Sync needs a sources file (absent while fuzzing, so no generated request fetched anything): one
    # page on a real web server on loopback.
    with Site() as site:
        site.put("/parking.html", PAGE)
        (fuzz_root / "sources.yml").write_text(
            f"- url: {site.url('/parking.html')}\n  topic: estates\n  publisher: Quillfield\n",
            encoding="utf-8",
        )
        synced = _validated(base_url, "POST", "/v1/admin/sources/sync", 200, params={"wait": "true"}).json()
    assert synced["added"] == 1, synced


def test_every_operation_reached_its_success_response() -> None:
    """Neither the fuzz run nor the real-id calls may have stopped at the gates or the validators for
    any operation: each one answered 2xx at least once. (Runs after the tests above, in file order.)"""
    if not SEEN:
        pytest.skip("run with the fuzz test")
    never = sorted(
        op for op in schema_operations() if not any(200 <= code < 300 for code in SEEN.get(op, {}))
    )
    assert never == [], {op: dict(SEEN.get(op, {})) for op in never}


def schema_operations() -> list[str]:
    return [f"{method.upper()} {path}" for path, ops in OPENAPI["paths"].items() for method in ops]
