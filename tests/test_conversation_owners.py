"""Row 5 of the hardening issue: conversations belong to whoever started them.

Before, any API key could read and append to any conversation whose id it knew or guessed. Now the owner is
the API key (stored hashed), or, without keys, the browser session in a signed cookie; reading, continuing
or rating another owner's conversation is the same 404 as an unknown id. Real app, real service, real
HTTP through FastAPI's TestClient (which keeps cookies like a browser).
"""

from __future__ import annotations

import stat
from typing import Any

import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from bots.api.session import SECRET_FILE, SESSION_COOKIE
from ingest.indexer import Indexer

QUESTION = "How often do reception staff rotate under the Quillfield rota policy?"
FOLLOW_UP = "And who reviews it?"
ROTA_DOC = """---
title: Quillfield surgery rota policy
topic: workforce
published: 2024-03-04
reviewed: 2026-03-01
---
Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone
queue every two hours. The practice manager reviews the Quillfield rota policy each April.
"""


@pytest.fixture(scope="module")
def owned_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """One small indexed document is all these tests need: they are about who sees what."""
    base = tmp_path_factory.mktemp("owners")
    (base / "corpus").mkdir()
    (base / "corpus" / "rota.md").write_text(ROTA_DOC, encoding="utf-8")
    settings = make_settings(base / "data")
    service = AnswerService(settings, embedder=embedder)
    Indexer(settings, service.store).run([base / "corpus"])
    return service


UNKNOWN = {"detail": "Unknown conversation."}


def app_client(service: AnswerService, base_url: str = "http://testserver", **api: Any) -> TestClient:
    api.setdefault("rate_limit_per_minute", 10_000)
    settings = service.settings.model_copy(update={"api": service.settings.api.model_copy(update=api)})
    return TestClient(create_app(service, settings), base_url=base_url)


def ask(client: TestClient, question: str = QUESTION, conversation_id: str | None = None, **kw: Any) -> Any:
    body: dict[str, Any] = {"question": question}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return client.post("/v1/ask", json=body, **kw)


def test_another_key_can_neither_read_nor_continue_nor_rate(owned_service: AnswerService) -> None:
    client = app_client(owned_service, keys=["key-a", "key-b"])
    a, b = {"X-API-Key": "key-a"}, {"X-API-Key": "key-b"}
    first = ask(client, headers=a).json()
    conversation_id, message_id = first["conversation_id"], first["message_id"]

    never_issued = client.get("/v1/conversations/0123456789abcdef0123456789abcdef", headers=b)
    assert never_issued.status_code == 404
    read = client.get(f"/v1/conversations/{conversation_id}", headers=b)
    assert (read.status_code, read.json()) == (404, never_issued.json())
    steer = ask(client, FOLLOW_UP, conversation_id, headers=b)
    assert (steer.status_code, steer.json()) == (404, UNKNOWN)
    streamed = client.post(
        "/v1/ask/stream", json={"question": FOLLOW_UP, "conversation_id": conversation_id}, headers=b
    )
    assert (streamed.status_code, streamed.json()) == (404, UNKNOWN)
    rated = client.post("/v1/feedback", json={"message_id": message_id, "rating": "down"}, headers=b)
    unknown_rated = client.post("/v1/feedback", json={"message_id": "f" * 32, "rating": "down"}, headers=b)
    assert rated.status_code == unknown_rated.status_code == 404
    assert not [f for f in owned_service.feedback_list() if f.message_id == message_id]

    # The owner still has the whole conversation, untouched by the other key.
    follow = ask(client, FOLLOW_UP, conversation_id, headers=a)
    assert follow.status_code == 200
    assert follow.json()["conversation_id"] == conversation_id
    turns = client.get(f"/v1/conversations/{conversation_id}", headers=a).json()["turns"]
    assert [t["question"] for t in turns] == [QUESTION, FOLLOW_UP]
    ok = client.post("/v1/feedback", json={"message_id": message_id, "rating": "up"}, headers=a)
    assert ok.status_code == 201
    # The key itself is stored nowhere: only its hash names the owner.
    with owned_service.history.engine.connect() as conn:
        owners = {row[0] for row in conn.exec_driver_sql("SELECT owner FROM conversations")}
    assert not [o for o in owners if o and "key-a" in o]


def test_conversation_ids_are_random_and_unknown_ones_are_404(owned_service: AnswerService) -> None:
    client = app_client(owned_service, keys=["key-a"])
    a = {"X-API-Key": "key-a"}
    ids = {ask(client, headers=a).json()["conversation_id"] for _ in range(2)}
    assert len(ids) == 2
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    # A made-up id used to create a conversation under that id; now it is simply unknown.
    made_up = ask(client, FOLLOW_UP, "my-own-conversation-id", headers=a)
    assert (made_up.status_code, made_up.json()) == (404, UNKNOWN)
    assert owned_service.conversation("my-own-conversation-id") is None


def test_browser_session_cookie_owns_the_conversation(owned_service: AnswerService) -> None:
    browser = app_client(owned_service)
    first = ask(browser, headers={"X-PMA-Client": "web"})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    conversation_id = first.json()["conversation_id"]

    follow = ask(browser, FOLLOW_UP, conversation_id)
    assert follow.status_code == 200
    assert "set-cookie" not in follow.headers  # the same session, nothing new to send
    assert len(browser.get(f"/v1/conversations/{conversation_id}").json()["turns"]) == 2

    # Another browser (its own cookie jar), and a client that keeps no cookies at all, are strangers.
    other = app_client(owned_service)
    assert other.get(f"/v1/conversations/{conversation_id}").status_code == 404
    assert ask(other, FOLLOW_UP, conversation_id).status_code == 404
    stateless = app_client(owned_service)
    stateless.cookies.clear()
    fresh = ask(stateless)
    stateless.cookies.clear()
    assert ask(stateless, FOLLOW_UP, fresh.json()["conversation_id"]).status_code == 404


@pytest.mark.parametrize("how", ["signature", "session id", "garbage"])
def test_tampered_cookie_is_a_new_anonymous_owner(owned_service: AnswerService, how: str) -> None:
    browser = app_client(owned_service)
    conversation_id = ask(browser).json()["conversation_id"]
    genuine = browser.cookies[SESSION_COOKIE]
    session_id, _, signed = genuine.partition(".")
    tampered = {
        "signature": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),
        "session id": ("y" if session_id.startswith("x") else "x") + session_id[1:] + "." + signed,
        "garbage": "not-a-cookie",
    }[how]

    attacker = app_client(owned_service)

    def send(method: str, url: str, cookie: str, **kw: Any) -> Any:
        attacker.cookies.clear()  # only the cookie given here is sent
        return attacker.request(method, url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, **kw)

    where = f"/v1/conversations/{conversation_id}"
    # The same request with the genuine cookie works, so the tampered one below is what fails.
    assert send("GET", where, genuine).status_code == 200
    read = send("GET", where, tampered)
    assert (read.status_code, read.json()) == (404, UNKNOWN)
    follow_up = {"question": FOLLOW_UP, "conversation_id": conversation_id}
    steer = send("POST", "/v1/ask", tampered, json=follow_up)
    assert (steer.status_code, steer.json()) == (404, UNKNOWN)
    # Treated as a newcomer: it may ask, under a brand-new session it is sent.
    fresh = send("POST", "/v1/ask", tampered, json={"question": QUESTION})
    assert fresh.status_code == 200
    issued = fresh.cookies[SESSION_COOKIE]
    assert issued not in {genuine, tampered}
    assert send("GET", f"/v1/conversations/{fresh.json()['conversation_id']}", issued).status_code == 200
    assert len(browser.get(where).json()["turns"]) == 1


def test_cookie_is_secure_over_https(owned_service: AnswerService) -> None:
    browser = app_client(owned_service, base_url="https://testserver")
    response = ask(browser)
    assert "secure" in {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
    assert browser.get(f"/v1/conversations/{response.json()['conversation_id']}").status_code == 200


def test_session_secret_is_kept_in_the_data_dir_or_taken_from_settings(
    service_factory: Any,
) -> None:
    service = service_factory()
    browser = app_client(service)
    conversation_id = ask(browser, "What is a PCN?").json()["conversation_id"]
    secret_file = service.settings.data_dir / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # A restarted server (a new app over the same data dir) still knows the browser.
    restarted = app_client(service)
    restarted.cookies = browser.cookies
    assert restarted.get(f"/v1/conversations/{conversation_id}").status_code == 200
    # A configured secret replaces it: cookies signed with the old one no longer verify.
    rotated = app_client(service, session_secret=SecretStr("a-configured-secret-for-every-worker"))
    rotated.cookies = browser.cookies
    assert rotated.get(f"/v1/conversations/{conversation_id}").status_code == 404
