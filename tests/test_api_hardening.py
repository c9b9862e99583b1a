"""Input that cannot hurt the API, and failures that explain themselves (issue 11, rows 4, 6, 13, 14).

Real service, real app, real uvicorn on 127.0.0.1 where the network matters (streamed bodies, peer
addresses, access logs) and real subprocesses for start-up failures; nothing of our own code is mocked.
"""

from __future__ import annotations

import logging
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import child_env, make_settings
from fastapi.testclient import TestClient
from fixtures_docs import ROTA_DOC

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from bots.api.access_log import scrub_query
from bots.cli import uvicorn_options
from ingest.indexer import Indexer

if TYPE_CHECKING:
    from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
KEY = "client-key-123"
ADMIN_TOKEN = "admin-token-456"
MARKER = "Zanzibar-quokka-lighthouse"  # a question fragment that must never reach a log or an error
QUESTION = f"What does the {MARKER} policy say about rotas?"


def with_api(settings: Settings, **api: Any) -> Settings:
    return settings.model_copy(update={"api": settings.api.model_copy(update=api)})


def client_for(service: AnswerService, **api: Any) -> TestClient:
    return TestClient(create_app(service, with_api(service.settings, **api)))


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture(scope="module")
def small_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """One small indexed document: these tests are about the front door, not about answers."""
    base = tmp_path_factory.mktemp("hardening")
    (base / "corpus").mkdir()
    (base / "corpus" / "rota.md").write_text(ROTA_DOC, encoding="utf-8")
    settings = make_settings(base / "data")
    service = AnswerService(settings, embedder=embedder)
    Indexer(settings, service.store).run([base / "corpus"])
    service.warm_up()
    return service


@pytest.fixture(scope="module")
def client(small_service: AnswerService) -> TestClient:
    return client_for(small_service, rate_limit_per_minute=10_000)


# --- row 4: lone surrogates, control characters, odd filters, a forced 500 ---------------------------


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/ask", '{"question": "What is a PCN \\ud83d?"}'),
        ("/v1/ask/stream", '{"question": "What is a PCN \\udc00?"}'),
        ("/v1/ask", '{"question": "What is a PCN?", "filters": {"topic": "pcn\\ud83d"}}'),
        ("/v1/ask", '{"question": "What is a PCN?", "conversation_id": "\\ud83dabc"}'),
        ("/v1/ask", '{"question": "What is a PCN\\u0007?"}'),
        ("/v1/ask", '{"question": "What is a PCN\\u0000?"}'),
        ("/v1/feedback", '{"message_id": "m1", "rating": "up", "comment": "great \\ud83d"}'),
        ("/v1/feedback", '{"message_id": "m1\\u001b[31m", "rating": "up"}'),
        ("/v1/search", '{"query": "PCN \\ud83d"}'),
    ],
)
def test_lone_surrogates_and_control_characters_are_422_json(client: TestClient, path: str, raw: str) -> None:
    response = client.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})
    body = assert_json_error(response, 422)
    [error] = body["detail"]
    assert error["type"] == "string_unsafe_character"
    assert error["loc"][0] == "body"
    assert "input" not in error
    assert "PCN" not in response.text
    assert "great" not in response.text


def test_admin_console_refuses_unsafe_text_and_stores_nothing(small_service: AnswerService) -> None:
    admin = client_for(small_service, admin_token=ADMIN_TOKEN, rate_limit_per_minute=10_000)
    before = small_service.approved.all()
    raw = (
        '{"question": "How often do reception staff rotate?", "answer": "Every two hours [1].",'
        ' "paraphrases": ["rota \\u0007 bell"], "sources": ["rota.md"]}'
    )
    response = admin.post(
        "/v1/admin/answers",
        content=raw.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    [error] = assert_json_error(response, 422)["detail"]
    assert error["type"] == "string_unsafe_character"
    assert error["loc"] == ["body", "paraphrases", 0]
    assert "rota" not in response.text
    assert small_service.approved.all() == before


def test_tabs_and_newlines_are_fine(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "What is\ta PCN?\r\nPlease explain."})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "filters",
    [
        {"topic": {"$ne": "x"}},
        {"topic": ["pcn", "igpm"]},
        {"topic": 7},
        {"topic": ""},
        {"topic": "x" * 5000},
        {"topic": "pcn", "source": {"$in": ["a"]}},
        {"topic": "\u202epcn"},
        {"nonsense": True},
        "pcn",
        [],
    ],
)
def test_odd_topic_filters_are_422_or_answered_never_500(client: TestClient, filters: Any) -> None:
    response = client.post("/v1/ask", json={"question": "What is a PCN?", "filters": filters})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_json_error(response, 422)
        assert "x" * 200 not in response.text


def test_a_server_error_is_json_with_a_request_id_and_logs_no_question(
    service_factory: Callable[..., AnswerService], caplog: pytest.LogCaptureFixture
) -> None:
    service = service_factory()
    # Break the app database for real: storing the turn fails inside SQLAlchemy, whose error message
    # quotes the SQL parameters (the question) — exactly what must never reach the log.
    with service.history.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE feedback"))
        conn.execute(sa.text("DROP TABLE messages"))
    client = client_for(service)
    with caplog.at_level(logging.DEBUG):
        response = client.post("/v1/ask", json={"question": QUESTION}, headers={"X-Request-ID": "req-42"})
    body = assert_json_error(response, 500)
    assert body["request_id"] == "req-42"
    assert MARKER not in response.text
    logged = "\n".join(
        r.getMessage() + (caplog.handler.formatter or logging.Formatter()).formatException(r.exc_info)
        if r.exc_info
        else r.getMessage()
        for r in caplog.records
    )
    assert "req-42" in logged
    assert "/v1/ask" in logged
    assert "OperationalError" in logged
    assert MARKER not in logged
    assert all(r.exc_info is None for r in caplog.records)


def test_every_error_carries_a_request_id(client: TestClient) -> None:
    missing = assert_json_error(client.get("/v1/nowhere"), 404)
    assert len(missing["request_id"]) >= 16
    assert_json_error(client.get("/v1/conversations/unknown-id"), 404)
    assert_json_error(
        client.post("/v1/ask", content=b"{not json", headers={"Content-Type": "application/json"}), 422
    )
    ok = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] != "bad id with spaces"


# --- row 6: body limits before parsing, auth before the body, 422s that don't echo, failed auth -------


def _serve(app: Any, **options: Any) -> tuple[int, Callable[[], None]]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", **{"log_level": "warning", **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return port, stop


def stream_until_answered(
    port: int, path: str, headers: dict[str, str], total: int, chunk: int = 64 * 1024
) -> tuple[int, bytes, int, float]:
    """Send up to `total` bytes as a chunked body, like a client streaming a generator, and stop as soon
    as the server answers. Returns (status, response body, bytes of body sent, seconds)."""
    started = time.perf_counter()
    sent = 0
    piece = b"x" * chunk
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answered = False
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answered = True
                break
            try:
                sock.sendall(f"{chunk:x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += chunk
        if not answered:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        status = int(head_bytes.split(b" ", 2)[1])
        length = next(
            (
                int(line.split(b":")[1])
                for line in head_bytes.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            len(rest),
        )
        while len(rest) < length:
            more = sock.recv(65536)
            if not more:
                break
            rest += more
    return status, rest, sent, time.perf_counter() - started


@pytest.fixture(scope="module")
def keyed_server(small_service: AnswerService) -> Iterator[int]:
    settings = with_api(
        small_service.settings,
        keys=[KEY],
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=10_000,
        failed_auth_per_minute=10_000,
    )
    port, stop = _serve(create_app(small_service, settings))
    try:
        yield port
    finally:
        stop()


BIG = 200 * 1024 * 1024


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/ask", {"Content-Type": "application/json"}),
        ("/v1/admin/documents", {"Content-Type": "multipart/form-data; boundary=xyz"}),
        ("/v1/admin/reindex", {"Authorization": "Bearer wrong"}),
    ],
)
def test_200_mb_streamed_body_without_credentials_is_refused_unread(
    keyed_server: int, path: str, headers: dict[str, str]
) -> None:
    status, body, sent, seconds = stream_until_answered(keyed_server, path, headers, BIG)
    assert status == 401, body
    assert sent < 16 * 1024 * 1024, f"the client got to send {sent >> 20} MB before the refusal"
    assert seconds < 10
    assert b"request_id" in body


def test_streamed_body_with_a_key_stops_at_the_body_limit(keyed_server: int) -> None:
    status, body, sent, _ = stream_until_answered(
        keyed_server, "/v1/ask", {"Content-Type": "application/json", "X-API-Key": KEY}, BIG
    )
    assert status == 413, body
    assert b"64 KB" in body
    assert sent < 16 * 1024 * 1024


def test_declared_200_mb_body_is_refused_before_a_byte_is_read(keyed_server: int) -> None:
    for headers in ({}, {"X-API-Key": KEY}):
        with socket.create_connection(("127.0.0.1", keyed_server), timeout=10) as sock:
            head = [
                "POST /v1/ask HTTP/1.1",
                "Host: x",
                f"Content-Length: {BIG}",
                "Content-Type: application/json",
            ]
            head += [f"{k}: {v}" for k, v in headers.items()]
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            reply = sock.recv(65536)
        assert reply.split(b" ", 2)[1] == (b"413" if headers else b"401")


def test_json_body_limit_is_413_and_uploads_keep_their_own_limit(
    service_factory: Callable[..., AnswerService],
) -> None:
    service = service_factory()
    client = client_for(service, admin_token=ADMIN_TOKEN, max_body_kb=4, max_upload_mb=1)
    big = client.post("/v1/ask", json={"question": "What is a PCN? " + "padding " * 1000})
    body = assert_json_error(big, 413)
    assert "4 KB" in body["detail"]
    # Over 64 KB on the wire but cheap to index: the page's text is one paragraph, the rest is styling.
    style = "".join(f".c{i} {{ color: #{i % 4096:03x}; }}\n" for i in range(4000))
    doc = (
        f"<html><head><title>Larchmere parking</title><style>{style}</style></head><body><article>"
        "<h1>Larchmere staff parking</h1><p>Staff parking at Larchmere Health Centre is free and "
        "allocated by the practice manager every January.</p></article></body></html>"
    ).encode()
    assert len(doc) > 64 * 1024
    upload = client.post(
        "/v1/admin/documents?wait=true",
        files={"file": ("larchmere.html", doc, "text/html")},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["report"]["added"] == 1


def test_validation_errors_do_not_echo_the_input(client: TestClient) -> None:
    long_question = f"{MARKER} " * 400
    response = client.post("/v1/ask", json={"question": long_question})
    body = assert_json_error(response, 422)
    assert MARKER not in response.text
    assert body["detail"][0]["loc"] == ["body", "question"]
    assert body["detail"][0]["ctx"] == {"max_length": 2000}
    wrong = client.post("/v1/feedback", json={"message_id": "m", "rating": MARKER * 50})
    assert_json_error(wrong, 422)
    assert MARKER not in wrong.text
    assert len(wrong.text) < 1000


def test_failed_auth_is_rate_limited_per_address(small_service: AnswerService) -> None:
    client = client_for(
        small_service, keys=[KEY], admin_token=ADMIN_TOKEN, failed_auth_per_minute=5, rate_limit_per_minute=0
    )
    for n in range(5):
        wrong = client.post("/v1/ask", json={"question": "x"}, headers={"X-API-Key": f"guess-{n}"})
        assert_json_error(wrong, 401)
    limited = client.post("/v1/ask", json={"question": "x"}, headers={"X-API-Key": "guess-6"})
    assert_json_error(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The admin token cannot be guessed from the same address either, and good keys wait too.
    assert_json_error(client.post("/v1/admin/reindex", headers={"Authorization": "Bearer guess"}), 429)
    assert client.get("/v1/documents", headers={"X-API-Key": KEY}).status_code == 429
    # Requests that need no credentials are unaffected.
    assert client.get("/healthz").status_code == 200


# --- row 14: access-log scrubbing, forwarded headers ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/healthz?token=abc&q=1", "/healthz?token=***&q=1"),
        ("/v1/ask?api_key=k1&X-Api-Key=k2", "/v1/ask?api_key=***&X-Api-Key=***"),
        (
            "/x?password=p&client_secret=s&authorization=a",
            "/x?password=***&client_secret=***&authorization=***",
        ),
        ("/plain", "/plain"),
    ],
)
def test_query_secrets_are_scrubbed(path: str, logged: str) -> None:
    assert scrub_query(path) == logged


SERVE_START_TIMEOUT_S = 300


def test_serve_writes_no_secret_to_the_access_log(tmp_path: Path) -> None:
    """`pm-assistant serve` itself, as a subprocess: its stderr access log must not hold the token."""
    port = _free_port()
    env = child_env(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PMA_API__KEYS"] = KEY
    cmd = [sys.executable, "-m", "bots.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    log = (tmp_path / "serve.log").open("w+b")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        # Loading the models takes a minute or more on a busy two-core machine.
        deadline = time.monotonic() + SERVE_START_TIMEOUT_S
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.25)
        secret = "s3cr3t-token-value"
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/documents?token={secret}&api_key={secret}&page=2",
            headers={"X-API-Key": KEY, "X-Forwarded-For": "203.0.113.9"},
        )
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "/v1/documents?token=***&api_key=***&page=2" in text
    assert secret not in text
    # uvicorn's own proxy-header handling is off: the logged client is the real peer.
    assert "203.0.113.9" not in text
    assert "127.0.0.1" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _limited_after(port: int, forwarded: Callable[[int], str], n: int) -> int:
    """Requests (each with its own X-Forwarded-For) until the first 429, or n + 1 if none."""
    for i in range(n + 1):
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/documents", headers={"X-Forwarded-For": forwarded(i)}
        )
        if response.status_code == 429:
            return i
        assert response.status_code == 200
    return n + 1


@pytest.mark.parametrize(("trusted", "spoofable"), [([], False), (["127.0.0.0/8"], True)])
def test_forwarded_for_counts_only_from_trusted_proxies(
    service_factory: Callable[..., AnswerService], trusted: list[str], spoofable: bool
) -> None:
    service = service_factory()
    settings = with_api(service.settings, rate_limit_per_minute=3, trusted_proxies=trusted)
    options = {k: v for k, v in uvicorn_options().items() if k != "log_config"}
    port, stop = _serve(create_app(service, settings), **options)
    try:
        first_429 = _limited_after(port, lambda i: f"198.51.100.{i}", 6)
    finally:
        stop()
    if spoofable:
        assert first_429 == 7, "each forwarded client should get its own window behind a trusted proxy"
    else:
        assert first_429 == 3, "an untrusted peer's X-Forwarded-For must not open new rate-limit windows"


def test_trusted_proxies_come_from_a_comma_separated_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.config import Settings

    monkeypatch.setenv("PMA_API__TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert Settings().api.trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
