"""HTTP front door: every route and error path of `bots.api.create_app`, through FastAPI's TestClient.

The service is the real `AnswerService` (shared shipped corpus for read-only tests, a fresh small corpus
for anything that changes the index or the settings); nothing of our own code is mocked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from fixtures_docs import make_pdf

from assistant.config import APISettings
from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from bots.web import STATIC_DIR

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.config import Settings

ADMIN_TOKEN = "admin-secret-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GROUNDED_QUESTION = "When did the first planning meeting of the IGPM take place?"
REFUSED_QUESTION = "What is the best recipe for sourdough bread with rye flour?"
VALID_NHS_NUMBER = "943 476 5919"  # passes the modulus 11 check digit

ROTA_DOC = """---
title: Quillfield surgery rota policy
topic: workforce
publisher: Quillfield Surgery
published: 2024-03-04
reviewed: 2026-03-01
url: https://example.org/quillfield/rota
---
The Quillfield surgery rota policy was adopted on 4 March 2024.

## Rotation

Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone
queue every two hours. The practice manager reviews the Quillfield rota policy each April.
"""

SMALL_CORPUS = [("handbook/quillfield-rota.md", ROTA_DOC)]

UPLOAD_MD = b"""---
title: Lindenbrook fire drill procedure
topic: premises
published: 2025-01-10
---
Fire drills at Lindenbrook Health Centre take place every six months, on the first Tuesday of March
and of September. The Lindenbrook fire marshal records each drill in the premises log.
"""


# --- helpers ------------------------------------------------------------------------------------------


def with_api(settings: Settings, **api: Any) -> Settings:
    """The service's settings with some `api.*` values changed (copies, never mutates)."""
    return settings.model_copy(update={"api": settings.api.model_copy(update=api)})


def client_for(service: AnswerService, **api: Any) -> TestClient:
    return TestClient(create_app(service, with_api(service.settings, **api)))


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a text/event-stream body into (event, data) pairs."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].lstrip())
        events.append((name, json.loads("\n".join(data))))
    return events


def document_sources(client: TestClient) -> set[str]:
    response = client.get("/v1/documents")
    assert response.status_code == 200
    return {d["source"] for d in response.json()}


@pytest.fixture(scope="module")
def client(corpus_service: AnswerService) -> TestClient:
    """Read-mostly client over the shipped corpus, admin enabled."""
    # Generous limits: these tests send many requests (and wrong credentials) from one address; the
    # failed-auth limit has tests of its own (test_api_hardening.py).
    return client_for(
        corpus_service, admin_token=ADMIN_TOKEN, rate_limit_per_minute=10_000, failed_auth_per_minute=10_000
    )


@pytest.fixture
def fresh_service(service_factory: Callable[..., AnswerService]) -> AnswerService:
    """A service with its own data dir over a one-document corpus, for tests that change the index."""
    return service_factory(SMALL_CORPUS)


@pytest.fixture
def admin_client(fresh_service: AnswerService) -> TestClient:
    return client_for(fresh_service, admin_token=ADMIN_TOKEN, rate_limit_per_minute=10_000, max_upload_mb=1)


# --- /v1/ask ------------------------------------------------------------------------------------------


def test_ask_returns_a_grounded_cited_answer(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": GROUNDED_QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grounded"] is True
    assert "25 November 2020" in body["answer"]
    assert re.search(r"\[\d+\]", body["answer"])
    assert body["conversation_id"]
    assert body["message_id"]
    assert isinstance(body["notes"], list)
    assert body["sources"]
    first = body["sources"][0]
    for key in ("n", "title", "source", "section", "url", "published", "score", "text"):
        assert key in first
    assert first["n"] == 1
    assert "timings_ms" not in body


def test_ask_refuses_what_the_corpus_does_not_cover(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": REFUSED_QUESTION}).json()
    assert body["grounded"] is False
    assert body["personal_data"] == []
    assert body["message_id"]


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n  "}, "blank"),
        ({"question": "x" * 2001}, "over 2,000 characters"),
        ({}, "missing"),
        ({"question": 42}, "not a string"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask/stream"])
def test_ask_rejects_bad_questions_with_422(client: TestClient, path: str, payload: dict, why: str) -> None:
    response = client.post(path, json=payload)
    assert response.status_code == 422, why
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["detail"]


def test_ask_accepts_exactly_2000_characters(client: TestClient) -> None:
    question = ("When did the first planning meeting of the IGPM take place? " * 40)[:2000]
    assert len(question) == 2000
    assert client.post("/v1/ask", json={"question": question}).status_code == 200


def test_personal_data_is_warned_about_and_not_stored(client: TestClient) -> None:
    question = f"Patient with NHS number {VALID_NHS_NUMBER} wants to register, what do I do?"
    body = client.post("/v1/ask", json={"question": question}).json()
    assert body["grounded"] is False
    assert body["personal_data"] == ["NHS number"]
    assert body["message_id"] is None
    assert body["sources"] == []


def test_topic_filter_limits_sources(client: TestClient) -> None:
    body = client.post(
        "/v1/ask", json={"question": GROUNDED_QUESTION, "filters": {"topic": "commissioning"}}
    ).json()
    assert all(s["topic"] == "commissioning" for s in body["sources"])


# --- /v1/ask/stream -----------------------------------------------------------------------------------


def test_stream_sends_deltas_then_one_final_event(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask/stream", json={"question": GROUNDED_QUESTION}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        body = "".join(response.iter_text())
    events = sse_events(body)
    names = [name for name, _ in events]
    assert names.count("final") == 1
    assert names[-1] == "final"
    assert len(names) >= 3, "the answer arrives in several pieces"
    assert set(names[:-1]) == {"delta"}
    final = events[-1][1]
    streamed = "".join(data["text"] for _, data in events[:-1])
    assert streamed == final["answer"]
    assert final["grounded"] is True
    assert final["sources"]
    assert "notes" in final
    assert final["conversation_id"]
    assert final["message_id"]


def test_stream_continues_a_conversation(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": GROUNDED_QUESTION}).json()
    response = client.post(
        "/v1/ask/stream",
        json={"question": "And who led it?", "conversation_id": first["conversation_id"]},
    )
    final = sse_events(response.text)[-1][1]
    assert final["conversation_id"] == first["conversation_id"]
    conversation = client.get(f"/v1/conversations/{first['conversation_id']}").json()
    assert [t["question"] for t in conversation["turns"]] == [GROUNDED_QUESTION, "And who led it?"]


# --- conversations and feedback -----------------------------------------------------------------------


def test_conversation_lists_turns_and_404s_when_unknown(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": GROUNDED_QUESTION}).json()
    conversation_id = first["conversation_id"]
    second = client.post(
        "/v1/ask", json={"question": "Who were the four founding leads?", "conversation_id": conversation_id}
    ).json()
    assert second["conversation_id"] == conversation_id

    response = client.get(f"/v1/conversations/{conversation_id}")
    assert response.status_code == 200
    turns = response.json()["turns"]
    assert [t["message_id"] for t in turns] == [first["message_id"], second["message_id"]]
    assert turns[0]["sources"]

    missing = client.get("/v1/conversations/no-such-conversation")
    assert missing.status_code == 404
    assert missing.json()["detail"]


def test_feedback_is_stored_and_listed_for_admins(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": GROUNDED_QUESTION}).json()
    response = client.post(
        "/v1/feedback",
        json={"message_id": answer["message_id"], "rating": "down", "comment": "Give both figures"},
    )
    assert response.status_code == 201
    assert response.json() == {"message_id": answer["message_id"], "rating": "down", "recorded": True}

    listed = client.get("/v1/admin/feedback", headers=ADMIN)
    assert listed.status_code == 200
    mine = [f for f in listed.json() if f["message_id"] == answer["message_id"]]
    assert len(mine) == 1
    assert mine[0]["rating"] == "down"
    assert mine[0]["comment"] == "Give both figures"
    assert mine[0]["question"] == GROUNDED_QUESTION


def test_feedback_for_unknown_message_is_404(client: TestClient) -> None:
    response = client.post("/v1/feedback", json={"message_id": "never-issued", "rating": "up"})
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [{"message_id": "x", "rating": "meh"}, {"rating": "up"}, {"message_id": "", "rating": "up"}],
)
def test_feedback_validation_is_422(client: TestClient, payload: dict) -> None:
    assert client.post("/v1/feedback", json=payload).status_code == 422


# --- documents ----------------------------------------------------------------------------------------


def test_documents_lists_what_is_indexed(client: TestClient) -> None:
    response = client.get("/v1/documents")
    assert response.status_code == 200
    documents = response.json()
    assert len(documents) >= 10
    founding = next(d for d in documents if d["source"].endswith("igpm-founding.md"))
    assert founding["topic"] == "igpm"
    assert founding["published"] == "2021-02-05"
    assert founding["chunks"] >= 1
    assert set(founding) >= {"source", "title", "topic", "published", "reviewed", "chunks"}


# --- admin --------------------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/v1/admin/feedback"),
    ("GET", "/v1/admin/unanswered"),
    ("POST", "/v1/admin/reindex"),
    ("DELETE", "/v1/admin/documents/handbook/quillfield-rota.md"),
    ("POST", "/v1/admin/documents"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_do_not_exist_without_a_token(
    corpus_service: AnswerService, method: str, path: str
) -> None:
    client = client_for(corpus_service, admin_token=None)
    response = client.request(method, path, headers=ADMIN)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}, {"Authorization": "Basic abc"}],
)
def test_admin_routes_need_the_bearer_token(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    files = {"file": ("a.md", b"# x\n", "text/markdown")} if path == "/v1/admin/documents" else None
    response = client.request(method, path, headers=headers, files=files)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_unanswered_lists_refusals_most_frequent_first(admin_client: TestClient) -> None:
    rare = "How do I file the annual dental survey for the cat?"
    for question in [
        REFUSED_QUESTION,
        rare,
        REFUSED_QUESTION,
        "When was the Quillfield rota policy adopted?",
    ]:
        admin_client.post("/v1/ask", json={"question": question})
    response = admin_client.get("/v1/admin/unanswered", headers=ADMIN)
    assert response.status_code == 200
    listed = response.json()
    assert [(u["question"], u["count"]) for u in listed] == [(REFUSED_QUESTION, 2), (rare, 1)]
    assert listed[0]["last_asked"]


def test_upload_indexes_a_document_incrementally(
    admin_client: TestClient, fresh_service: AnswerService
) -> None:
    before = document_sources(admin_client)
    response = admin_client.post(
        "/v1/admin/documents?wait=true",
        headers=ADMIN,
        files={"file": ("Lindenbrook fire drills.md", UPLOAD_MD, "text/markdown")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["report"]["added"] == 1
    assert body["report"]["failed"] == []
    source = body["source"]
    saved = fresh_service.settings.data_dir / source
    assert saved.read_bytes() == UPLOAD_MD
    assert saved.parent == fresh_service.settings.data_dir / "uploads"
    assert document_sources(admin_client) == before | {source}

    answer = admin_client.post("/v1/ask", json={"question": "How often are Lindenbrook fire drills held?"})
    assert answer.json()["grounded"] is True
    assert any(s["source"] == source for s in answer.json()["sources"])

    # The same bytes again change nothing.
    again = admin_client.post(
        "/v1/admin/documents?wait=true",
        headers=ADMIN,
        files={"file": ("Lindenbrook fire drills.md", UPLOAD_MD)},
    )
    assert again.status_code == 201
    assert again.json()["report"]["added"] == 0


def test_upload_of_a_real_pdf(admin_client: TestClient, tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "drills.pdf",
        ["Evacuation drills at Marrowgate Practice happen every quarter.\nThe fire marshal logs each one."],
        title="Marrowgate evacuation drills",
    )
    response = admin_client.post(
        "/v1/admin/documents?wait=true",
        headers=ADMIN,
        files={"file": ("drills.pdf", pdf.read_bytes(), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] in document_sources(admin_client)


def test_upload_of_an_unsupported_type_is_415(admin_client: TestClient, fresh_service: AnswerService) -> None:
    for name in ("tool.exe", "sheet.xlsx", "noextension"):
        response = admin_client.post(
            "/v1/admin/documents",
            headers=ADMIN,
            files={"file": (name, b"MZ\x90\x00", "application/octet-stream")},
        )
        assert response.status_code == 415, name
        assert response.json()["detail"]
    uploads = fresh_service.settings.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_upload_over_the_limit_is_413(admin_client: TestClient, fresh_service: AnswerService) -> None:
    big = b"# Big\n\n" + b"word " * (300 * 1024)  # 1.5 MB against a 1 MB limit
    response = admin_client.post(
        "/v1/admin/documents", headers=ADMIN, files={"file": ("big.md", big, "text/markdown")}
    )
    assert response.status_code == 413
    assert "MB" in response.json()["detail"]
    uploads = fresh_service.settings.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_upload_just_over_the_limit_is_413_from_the_route(
    admin_client: TestClient, fresh_service: AnswerService
) -> None:
    # Small enough to pass the Content-Length guard (which allows for multipart overhead), so the route's
    # exact size check is what refuses it.
    big = b"a" * (1024 * 1024 + 10)
    response = admin_client.post(
        "/v1/admin/documents", headers=ADMIN, files={"file": ("edge.txt", big, "text/plain")}
    )
    assert response.status_code == 413
    uploads = fresh_service.settings.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_corrupt_pdf_is_422_and_changes_nothing(
    admin_client: TestClient, fresh_service: AnswerService
) -> None:
    before = admin_client.get("/v1/documents").json()
    corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf\n%%EOF"
    response = admin_client.post(
        "/v1/admin/documents?wait=true",
        headers=ADMIN,
        files={"file": ("broken.pdf", corrupt, "application/pdf")},
    )
    assert response.status_code == 422
    assert "broken.pdf" in response.json()["detail"]
    assert admin_client.get("/v1/documents").json() == before
    uploads = fresh_service.settings.data_dir / "uploads"
    assert not (uploads / "broken.pdf").exists()
    assert not any((fresh_service.settings.data_dir / "tmp").iterdir())


def test_corrupt_reupload_keeps_the_earlier_good_version(
    admin_client: TestClient, fresh_service: AnswerService, tmp_path: Path
) -> None:
    good = make_pdf(
        tmp_path / "plan.pdf",
        ["The Marrowgate flu clinic plan starts each October and runs on Saturday mornings until December."],
    )
    assert (
        admin_client.post(
            "/v1/admin/documents?wait=true", headers=ADMIN, files={"file": ("plan.pdf", good.read_bytes())}
        ).status_code
        == 201
    )
    before = admin_client.get("/v1/documents").json()
    response = admin_client.post(
        "/v1/admin/documents?wait=true", headers=ADMIN, files={"file": ("plan.pdf", b"%PDF-1.4 garbage")}
    )
    assert response.status_code == 422
    assert (fresh_service.settings.data_dir / "uploads" / "plan.pdf").read_bytes() == good.read_bytes()
    assert admin_client.get("/v1/documents").json() == before


def test_upload_names_cannot_escape_the_uploads_folder(
    admin_client: TestClient, fresh_service: AnswerService
) -> None:
    response = admin_client.post(
        "/v1/admin/documents?wait=true", headers=ADMIN, files={"file": ("../../evil notes.md", UPLOAD_MD)}
    )
    assert response.status_code == 201
    assert response.json()["source"] == "uploads/evil notes.md"
    assert (fresh_service.settings.data_dir / "uploads" / "evil notes.md").is_file()


def test_delete_document_then_404(admin_client: TestClient, fresh_service: AnswerService) -> None:
    source = admin_client.post(
        "/v1/admin/documents?wait=true", headers=ADMIN, files={"file": ("drills.md", UPLOAD_MD)}
    ).json()["source"]
    response = admin_client.delete(f"/v1/admin/documents/{source}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["chunks_deleted"] >= 1
    assert source not in document_sources(admin_client)
    assert not (fresh_service.settings.data_dir / source).exists()

    assert admin_client.delete(f"/v1/admin/documents/{source}", headers=ADMIN).status_code == 404
    # A reindex must not bring the deleted upload back.
    admin_client.post("/v1/admin/reindex?wait=true", headers=ADMIN)
    assert source not in document_sources(admin_client)


def test_delete_of_a_corpus_document_with_slashes(admin_client: TestClient) -> None:
    corpus_source = next(s for s in document_sources(admin_client) if s.endswith("quillfield-rota.md"))
    response = admin_client.delete(f"/v1/admin/documents/{corpus_source}", headers=ADMIN)
    assert response.status_code == 200
    assert corpus_source not in document_sources(admin_client)


def test_reindex_reports_in_the_ingest_shape(admin_client: TestClient) -> None:
    response = admin_client.post("/v1/admin/reindex?wait=true", headers=ADMIN)
    assert response.status_code == 200
    report = response.json()
    assert set(report) == {
        "added",
        "updated",
        "skipped",
        "deleted",
        "failed",
        "documents",
        "chunks",
        "repaired",
        "not_modified",
    }
    assert report["repaired"] == 0
    assert report["failed"] == []
    assert report["skipped"] >= 1


# --- API keys and rate limits -------------------------------------------------------------------------


def test_api_keys_are_required_when_configured(corpus_service: AnswerService) -> None:
    client = client_for(corpus_service, keys=["key-one", "key-two"], rate_limit_per_minute=100)
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        response = client.get("/v1/documents", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"]
    assert client.post("/v1/ask", json={"question": GROUNDED_QUESTION}).status_code == 401
    assert client.get("/v1/documents", headers={"X-API-Key": "key-two"}).status_code == 200
    ok = client.post("/v1/ask", json={"question": GROUNDED_QUESTION}, headers={"X-API-Key": "key-one"})
    assert ok.status_code == 200
    # Probes and the page itself stay open.
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js"):
        assert client.get(path).status_code == 200, path


def test_api_keys_come_from_a_comma_separated_env_value() -> None:
    assert APISettings(keys="a, b,,c").keys == ["a", "b", "c"]  # type: ignore[arg-type]


def test_rate_limit_gives_429_with_retry_after(corpus_service: AnswerService) -> None:
    client = client_for(corpus_service, keys=["k1", "k2"], rate_limit_per_minute=3)
    key1 = {"X-API-Key": "k1"}
    for _ in range(3):
        assert client.get("/v1/documents", headers=key1).status_code == 200
    limited = client.get("/v1/documents", headers=key1)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["detail"]
    # Each key has its own window; probes are never limited.
    assert client.get("/v1/documents", headers={"X-API-Key": "k2"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_rate_limit_is_per_ip_without_keys(corpus_service: AnswerService) -> None:
    client = client_for(corpus_service, rate_limit_per_minute=2)
    assert client.get("/v1/documents").status_code == 200
    assert client.post("/v1/feedback", json={"message_id": "nope", "rating": "up"}).status_code == 404
    response = client.post("/v1/ask", json={"question": GROUNDED_QUESTION})
    assert response.status_code == 429
    assert "retry-after" in response.headers


def test_rate_limit_zero_disables_it(corpus_service: AnswerService) -> None:
    client = client_for(corpus_service, rate_limit_per_minute=0)
    assert all(client.get("/v1/documents").status_code == 200 for _ in range(5))


# --- health, readiness, metrics, docs -----------------------------------------------------------------


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"model": True, "store": True}}


def test_readyz_is_503_until_the_model_is_loaded(tmp_path: Path, corpus_service: AnswerService) -> None:
    settings = corpus_service.settings.model_copy(update={"data_dir": tmp_path / "cold"})
    # A real service before its model has loaded (the PyTorch backend loads nothing until first use).
    cold = AnswerService(settings, embedder=Embedder(backend="torch"))
    client = TestClient(create_app(cold, settings))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["model"] is False
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_answers_and_ingests(admin_client: TestClient) -> None:
    answer = admin_client.post("/v1/ask", json={"question": "When was the Quillfield rota policy adopted?"})
    assert answer.json()["grounded"] is True
    admin_client.post("/v1/ask", json={"question": REFUSED_QUESTION})
    admin_client.get(f"/v1/conversations/{answer.json()['conversation_id']}")
    admin_client.get("/v1/conversations/unknown-one")
    admin_client.get("/no/such/page")
    uploaded = admin_client.post(
        "/v1/admin/documents?wait=true", headers=ADMIN, files={"file": ("drills.md", UPLOAD_MD)}
    )
    assert uploaded.status_code == 201, uploaded.text

    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'pma_http_requests_total{method="POST",route="/v1/ask",status="200"} 2.0' in text
    assert 'route="/v1/conversations/{conversation_id}",status="200"' in text
    assert 'route="/v1/conversations/{conversation_id}",status="404"' in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'pma_http_request_duration_seconds_count{method="POST",route="/v1/ask"} 2.0' in text
    assert 'pma_answers_total{outcome="grounded"} 1.0' in text
    assert 'pma_answers_total{outcome="refused"} 1.0' in text
    assert 'pma_ingest_documents_total{result="added"} 1.0' in text
    assert "unknown-one" not in text


def test_streamed_answers_are_counted_too(fresh_service: AnswerService) -> None:
    client = client_for(fresh_service)
    client.post("/v1/ask/stream", json={"question": "When was the Quillfield rota policy adopted?"})
    assert 'pma_answers_total{outcome="grounded"} 1.0' in client.get("/metrics").text


def test_each_app_has_its_own_metrics_registry(corpus_service: AnswerService) -> None:
    first, second = client_for(corpus_service), client_for(corpus_service)
    first.get("/healthz")
    first.get("/healthz")
    assert 'route="/healthz",status="200"} 2.0' in first.get("/metrics").text
    assert 'route="/healthz"' not in second.get("/metrics").text


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/ask",
        "/v1/ask/stream",
        "/v1/feedback",
        "/v1/conversations/{conversation_id}",
        "/v1/documents",
        "/v1/admin/documents",
        "/v1/admin/documents/{source}",
        "/v1/admin/reindex",
        "/v1/admin/feedback",
        "/v1/admin/unanswered",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path


# --- the web page -------------------------------------------------------------------------------------


def test_chat_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
    # No build step and no external requests: every referenced URL is local.
    html = page.text
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "/static/app.js" in html
    assert "/static/style.css" in html


def test_page_script_never_parses_server_text_as_html() -> None:
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    assert "http://" not in code.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in code
