"""Approved answers and the gaps report, through the real HTTP API (FastAPI TestClient), the real model,
a real embedded Chroma and the real CLI; nothing of our own is mocked.

A small copy of the shipped corpus (two commissioning notes) keeps each test's index private: approved
answers change what /v1/ask returns, so they must never leak into the shared corpus service.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from conftest import CORPUS, make_settings
from fastapi.testclient import TestClient

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots import cli
from bots.api import create_app
from ingest.indexer import Indexer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ADMIN_TOKEN = "console-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOTES = ["commissioning/integrated-care-boards.md", "commissioning/clinical-commissioning-groups.md"]
ICB_NOTE, CCG_NOTE = NOTES

APPROVED = {
    "question": "When did integrated care boards replace CCGs?",
    "answer": "Integrated care boards (ICBs) replaced clinical commissioning groups on **1 July 2022** [1]. "
    "CCGs had run local commissioning since 1 April 2013 [2].",
    "paraphrases": ["When were clinical commissioning groups replaced by ICBs?"],
    "sources": [ICB_NOTE, CCG_NOTE],
    "approved_by": "Jo Bloggs, ICB primary care officer",
    "review_date": "2027-06-30",
}
# Not stored anywhere: a rewording the matcher must recognise on its own.
PARAPHRASE = "What date did ICBs take over from clinical commissioning groups?"
# Same topic, a different ask: must fall through to the composed answer.
NEAR_MISS = "How many integrated care boards are there in England?"


def corpus_docs() -> list[tuple[str, str]]:
    return [(rel, (CORPUS / rel).read_text(encoding="utf-8")) for rel in NOTES]


def admin_client(service: AnswerService) -> TestClient:
    settings = service.settings.model_copy(
        update={"api": service.settings.api.model_copy(update={"admin_token": ADMIN_TOKEN})}
    )
    return TestClient(create_app(service, settings))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """One indexed copy for the tests that leave the index alone (indexing is the slow part)."""
    base = tmp_path_factory.mktemp("approved")
    for rel, text in corpus_docs():
        (base / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / "corpus" / rel).write_text(text, encoding="utf-8")
    settings = make_settings(base / "data")
    service = AnswerService(settings, embedder=embedder)
    Indexer(settings, service.store).run([base / "corpus"])
    return service


@pytest.fixture
def service(shared: AnswerService) -> Iterator[AnswerService]:
    yield shared
    for item in shared.approved.all():  # each test starts with no approved answers
        shared.approved.delete(item.id)


@pytest.fixture
def client(service: AnswerService) -> TestClient:
    return admin_client(service)


@pytest.fixture
def fresh(service_factory: Callable[..., AnswerService]) -> AnswerService:
    """A private index and history, for tests that change the index or read every stored question."""
    return service_factory(corpus_docs())


def approve(client: TestClient, **changes: object) -> dict:
    response = client.post("/v1/admin/answers", json={**APPROVED, **changes}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def ask(client: TestClient, question: str) -> dict:
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


# --- serving -----------------------------------------------------------------------------------------


def test_exact_question_gets_the_approved_answer_with_real_citations(
    client: TestClient, service: AnswerService
) -> None:
    created = approve(client)
    body = ask(client, APPROVED["question"])
    assert body["composer"] == "approved"
    assert body["grounded"] is True
    assert body["answer"] == APPROVED["answer"]
    # [1] and [2] resolve, in order, to indexed passages of the listed documents.
    assert [(s["n"], s["source"]) for s in body["sources"]] == [(1, ICB_NOTE), (2, CCG_NOTE)]
    assert "1 July 2022" in body["sources"][0]["text"]
    assert body["sources"][0]["title"].startswith("Integrated care boards")
    assert body["notes"][0] == (
        f"Approved answer by {APPROVED['approved_by']} on {created['approved_at']} (review by 2027-06-30)."
    )
    # Stored like any other turn, so feedback and conversations work on it.
    turns = service.history.conversation(body["conversation_id"])
    assert turns is not None
    assert turns.turns[-1].answer == APPROVED["answer"]
    assert (
        client.post("/v1/feedback", json={"message_id": body["message_id"], "rating": "up"}).status_code
        == 201
    )


def test_paraphrase_matches_and_near_miss_falls_through(client: TestClient) -> None:
    approve(client)
    paraphrased = ask(client, PARAPHRASE)
    assert paraphrased["composer"] == "approved", paraphrased
    assert paraphrased["answer"] == APPROVED["answer"]

    near = ask(client, NEAR_MISS)
    assert near["composer"] == "extractive"
    assert "42" in near["answer"]  # the composed answer, from the ICB note

    # "Why" asks for a reason, not a date: however alike the words, not the approved answer.
    why = ask(client, "Why did integrated care boards replace CCGs?")
    assert why["composer"] == "extractive"


def test_streamed_answers_are_approved_too(client: TestClient) -> None:
    approve(client)
    response = client.post("/v1/ask/stream", json={"question": APPROVED["question"]})
    assert response.status_code == 200
    final = response.text.split("event: final")[-1]
    assert '"composer":"approved"' in final.replace(" ", "")


def test_retired_answers_are_listed_but_not_served(client: TestClient) -> None:
    created = approve(client)
    response = client.delete(f"/v1/admin/answers/{created['id']}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["retired"] is True
    listed = client.get("/v1/admin/answers", headers=ADMIN).json()
    assert [(a["id"], a["retired"]) for a in listed] == [(created["id"], True)]
    assert ask(client, APPROVED["question"])["composer"] == "extractive"

    # PUT brings it back; ?purge=true deletes it outright.
    restored = client.put(
        f"/v1/admin/answers/{created['id']}", json={**APPROVED, "retired": False}, headers=ADMIN
    )
    assert restored.status_code == 200, restored.text
    assert ask(client, APPROVED["question"])["composer"] == "approved"
    assert client.delete(f"/v1/admin/answers/{created['id']}?purge=true", headers=ADMIN).status_code == 200
    assert client.get("/v1/admin/answers", headers=ADMIN).json() == []
    assert client.delete(f"/v1/admin/answers/{created['id']}", headers=ADMIN).status_code == 404


def test_edits_are_served_at_once(client: TestClient) -> None:
    created = approve(client)
    changed = {**APPROVED, "answer": "ICBs replaced CCGs on 1 July 2022 [1].", "sources": [ICB_NOTE]}
    response = client.put(f"/v1/admin/answers/{created['id']}", json=changed, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["approved_at"] == created["approved_at"]  # an edit keeps the approval date
    body = ask(client, APPROVED["question"])
    assert body["answer"] == "ICBs replaced CCGs on 1 July 2022 [1]."
    assert [s["source"] for s in body["sources"]] == [ICB_NOTE]


# --- validation --------------------------------------------------------------------------------------


def test_defaults_and_validation(client: TestClient, service: AnswerService) -> None:
    minimal = client.post(
        "/v1/admin/answers", json={"question": "What is a CCG?", "answer": "A CCG was ..."}, headers=ADMIN
    )
    assert minimal.status_code == 201
    body = minimal.json()
    assert body["id"]
    assert body["sources"] == []
    assert body["retired"] is False
    today = date.today()
    assert body["approved_at"] == today.isoformat()
    months = service.settings.corpus.review_months
    assert date.fromisoformat(body["review_date"]) > today
    assert (date.fromisoformat(body["review_date"]) - today).days in range(months * 28, months * 31 + 1)

    unknown = client.post(
        "/v1/admin/answers", json={**APPROVED, "sources": ["nope/missing.md"]}, headers=ADMIN
    )
    assert unknown.status_code == 422
    assert "nope/missing.md" in unknown.json()["detail"]
    assert "not an indexed document" in unknown.json()["detail"]

    for bad in ({"question": "", "answer": "x"}, {"question": "q?"}, {**APPROVED, "review_date": "soon"}):
        assert client.post("/v1/admin/answers", json=bad, headers=ADMIN).status_code == 422
    assert client.put("/v1/admin/answers/nope", json=APPROVED, headers=ADMIN).status_code == 404
    assert client.post("/v1/admin/answers", json=APPROVED).status_code == 401  # admin only


# --- export, import, reindex -------------------------------------------------------------------------


def run_cli(service: AnswerService, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    # The CLI builds its settings from the environment, as in production: point it at this data dir.
    monkeypatch.setenv("PMA_DATA_DIR", str(service.settings.data_dir))
    monkeypatch.setenv("PMA_RETRIEVAL__GLOSSARY_PATH", str(CORPUS / "glossary.yml"))
    return cli.main(list(args))


def test_export_import_round_trip(
    client: TestClient,
    service: AnswerService,
    fresh: AnswerService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = approve(client)
    approve(
        client, question="What replaced practice-based commissioning?", sources=[ICB_NOTE], paraphrases=[]
    )
    client.delete(f"/v1/admin/answers/{first['id']}", headers=ADMIN)  # retired ones travel too
    exported = tmp_path / "approved.yml"
    assert run_cli(service, "answers", "export", str(exported), monkeypatch=monkeypatch) == 0
    text = exported.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert {a["question"] for a in data["approved_answers"]} == {
        APPROVED["question"],
        "What replaced practice-based commissioning?",
    }

    # Into another installation with the same corpus: same answers, byte-identical export.
    other = fresh
    assert run_cli(other, "answers", "import", str(exported), monkeypatch=monkeypatch) == 0
    assert other.approved.export_yaml() == text
    # Importing again upserts by id: nothing doubles.
    assert run_cli(other, "answers", "import", str(exported), monkeypatch=monkeypatch) == 0
    assert len(other.approved.all()) == 2
    assert other.approved.export_yaml() == text

    # An edited file updates in place; a bad one changes nothing and says why.
    data["approved_answers"][0]["answer"] = "Edited in version control [1]."
    exported.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert run_cli(other, "answers", "import", str(exported), monkeypatch=monkeypatch) == 0
    assert "Edited in version control [1]." in other.approved.export_yaml()
    data["approved_answers"][0]["sources"] = ["gone/away.md"]
    exported.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    before = other.approved.export_yaml()
    assert run_cli(other, "answers", "import", str(exported), monkeypatch=monkeypatch) == 1
    assert other.approved.export_yaml() == before


def test_approved_answers_survive_a_reindex(fresh: AnswerService) -> None:
    client = admin_client(fresh)
    approve(client)
    # Edit a cited note so the reindex really rewrites its chunks, then reindex through the API.
    note = fresh.corpus_dir / ICB_NOTE  # type: ignore[attr-defined]
    note.write_text(note.read_text(encoding="utf-8") + "\nICBs publish a joint forward plan each year.\n")
    report = client.post("/v1/admin/reindex?wait=true", headers=ADMIN)
    assert report.status_code == 200
    assert report.json()["updated"] == 1
    body = ask(client, APPROVED["question"])
    assert body["composer"] == "approved"
    assert [s["source"] for s in body["sources"]] == [ICB_NOTE, CCG_NOTE]


def test_an_answer_citing_a_deleted_document_is_not_served(fresh: AnswerService) -> None:
    client = admin_client(fresh)
    approve(client)
    assert client.delete(f"/v1/admin/documents/{CCG_NOTE}", headers=ADMIN).status_code == 200
    listed = client.get("/v1/admin/answers", headers=ADMIN).json()
    assert listed[0]["missing_sources"] == [CCG_NOTE]
    assert ask(client, APPROVED["question"])["composer"] == "extractive"


# --- gaps --------------------------------------------------------------------------------------------


def test_gaps_group_refusals_and_thumbs_down(fresh: AnswerService) -> None:
    client = admin_client(fresh)
    refused = [
        "What is the best recipe for sourdough bread?",
        "what is the best recipe for sourdough bread?",
        "Whats the best sourdough bread recipe?",
        "How do I bake a good sourdough loaf of bread?",
        "Which football team won the 1966 World Cup final?",
    ]
    for question in refused:
        assert ask(client, question)["grounded"] is False
    answered = ask(client, "When did integrated care boards replace clinical commissioning groups?")
    assert answered["grounded"] is True
    client.post(
        "/v1/feedback",
        json={"message_id": answered["message_id"], "rating": "down", "comment": "<b>Too short</b>"},
    )
    # An email in a refused question is redacted before storage, so the gap shows it redacted.
    ask(client, "Can I email the sourdough recipe to jo.bloggs@example.org?")

    response = client.get("/v1/admin/gaps", headers=ADMIN)
    assert response.status_code == 200
    groups = response.json()
    bread = groups[0]
    assert bread["count"] >= 4, groups  # near-duplicates counted together, most frequent first
    assert bread["question"].lower() == refused[0].lower()
    assert "Whats the best sourdough bread recipe?" in bread["examples"]
    assert bread["refused"] == bread["count"]
    assert bread["answers_given"]
    assert bread["last_asked"]
    football = [g for g in groups if "football" in g["question"]]
    assert len(football) == 1
    assert football[0]["count"] == 1

    down = [g for g in groups if g["thumbs_down"]]
    assert len(down) == 1
    assert down[0]["comments"] == ["<b>Too short</b>"]
    assert down[0]["answers_given"] == [answered["answer"]]

    everything = str(groups)
    assert "jo.bloggs@example.org" not in everything
    assert any("sourdough recipe to" in e and "[email" in e.lower() for g in groups for e in g["examples"])


def test_console_routes_need_the_admin_token(client: TestClient) -> None:
    for path in ("/v1/admin/answers", "/v1/admin/gaps", "/v1/admin/documents", "/v1/admin/sources"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=ADMIN).status_code == 200, path
