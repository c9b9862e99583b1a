"""Several workers, one state: two `pm-assistant serve` processes on one PostgreSQL and one `chroma run`.

The workers share nothing but the database and the vector server (separate data dirs, separate model
copies), as two machines behind a load balancer would. Through real HTTP we check what must hold across
them: a conversation continues on the other worker for its owner only, feedback is stored once, a rate
limit counts requests to both, and a Slack event retried to the other worker is answered once. Slack is
the fake Web API on loopback; everything else is real.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest import make_settings
from fake_slack import BOT_USER_ID, FakeSlack
from servers import chroma_server, serve_worker
from slack_sdk.signature import SignatureVerifier

from assistant.embeddings import Embedder
from assistant.store import open_store
from ingest.indexer import Indexer

pytestmark = pytest.mark.slow

RATE_LIMIT = 8
KEYS = {"a": "worker-test-key-a", "b": "worker-test-key-b", "c": "worker-test-key-c"}
SIGNING_SECRET = "two-worker-signing-secret"
TEAM = "T0WORKERS"
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
QUESTION = "How often do reception staff rotate under the Quillfield rota policy?"
FOLLOW_UP = "And who reviews it?"


@dataclass
class Cluster:
    workers: list[str]
    database_url: str
    slack: FakeSlack


@pytest.fixture(scope="module")
def cluster(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("two-workers")
    name = f"pma_workers_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = sa.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with ExitStack() as stack:
            (base / "chroma").mkdir()
            chroma_port = stack.enter_context(chroma_server(base / "chroma"))
            corpus = base / "corpus" / "handbook"
            corpus.mkdir(parents=True)
            (corpus / "quillfield-rota.md").write_text(ROTA_DOC, encoding="utf-8")
            ingest = make_settings(base / "ingest", chroma__host="127.0.0.1", chroma__port=chroma_port)
            report = Indexer(ingest, open_store(ingest, embedder)).run([base / "corpus"])
            assert (report.added, report.failed) == (1, [])

            slack = stack.enter_context(FakeSlack())
            env = {
                "PMA_DATABASE_URL": database_url,
                "PMA_CHROMA__HOST": "127.0.0.1",
                "PMA_CHROMA__PORT": str(chroma_port),
                "PMA_RETRIEVAL__GLOSSARY_PATH": str(
                    Path(__file__).resolve().parents[1] / "corpus" / "glossary.yml"
                ),
                "PMA_API__KEYS": ",".join(KEYS.values()),
                "PMA_API__RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
                "PMA_API__SESSION_SECRET": "shared-by-every-worker",
                "PMA_SLACK__BOT_TOKEN": "xoxb-two-workers",
                "PMA_SLACK__SIGNING_SECRET": SIGNING_SECRET,
                "PMA_SLACK__API_URL": slack.api_url,
            }
            workers = [stack.enter_context(serve_worker(base / f"worker-{n}", env)) for n in (1, 2)]
            yield Cluster(workers=workers, database_url=database_url, slack=slack)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


def test_conversation_feedback_and_rate_limit_span_both_workers(cluster: Cluster) -> None:
    one, two = cluster.workers
    first = httpx.post(f"{one}/v1/ask", json={"question": QUESTION}, headers=key("a"), timeout=60)
    assert first.status_code == 200, first.text
    conversation_id, message_id = first.json()["conversation_id"], first.json()["message_id"]
    assert first.json()["grounded"] is True, first.json()["answer"]

    # The same owner carries on at the other worker; the follow-up is read against the first turn.
    follow = httpx.post(
        f"{two}/v1/ask",
        json={"question": FOLLOW_UP, "conversation_id": conversation_id},
        headers=key("a"),
        timeout=60,
    )
    assert follow.status_code == 200, follow.text
    assert follow.json()["conversation_id"] == conversation_id
    turns = httpx.get(f"{two}/v1/conversations/{conversation_id}", headers=key("a"), timeout=30).json()[
        "turns"
    ]
    assert [t["question"] for t in turns] == [QUESTION, FOLLOW_UP]

    # Another key gets the unknown-conversation 404 from either worker.
    for worker in (one, two):
        read = httpx.get(f"{worker}/v1/conversations/{conversation_id}", headers=key("b"), timeout=30)
        assert (read.status_code, read.json()) == (404, {"detail": "Unknown conversation."})
    steer = httpx.post(
        f"{two}/v1/ask",
        json={"question": FOLLOW_UP, "conversation_id": conversation_id},
        headers=key("b"),
        timeout=60,
    )
    assert steer.status_code == 404
    stolen = httpx.post(
        f"{two}/v1/feedback", json={"message_id": message_id, "rating": "down"}, headers=key("b"), timeout=30
    )
    assert stolen.status_code == 404

    # Feedback at worker 2 for worker 1's answer: stored, once.
    rated = httpx.post(
        f"{two}/v1/feedback", json={"message_id": message_id, "rating": "up"}, headers=key("a"), timeout=30
    )
    assert rated.status_code == 201, rated.text
    engine = sa.create_engine(cluster.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT rating FROM feedback WHERE message_id = :m"), {"m": message_id}
        ).all()
    engine.dispose()
    assert [r[0] for r in rows] == ["up"]

    # A limit of N a minute is N across both workers, whichever one the next request reaches.
    statuses = [
        httpx.get(f"{cluster.workers[n % 2]}/v1/documents", headers=key("c"), timeout=30).status_code
        for n in range(RATE_LIMIT)
    ]
    assert statuses == [200] * RATE_LIMIT
    for worker in (one, two):
        limited = httpx.get(f"{worker}/v1/documents", headers=key("c"), timeout=30)
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) >= 1
    # Key A's own requests were counted separately, and it is still under its limit.
    assert httpx.get(f"{one}/v1/documents", headers=key("a"), timeout=30).status_code == 200


def test_slack_event_retried_to_the_other_worker_is_answered_once(cluster: Cluster) -> None:
    one, two = cluster.workers
    verifier = SignatureVerifier(SIGNING_SECRET)
    channel, event_id, ts = (
        f"C{uuid.uuid4().hex[:9].upper()}",
        f"Ev{uuid.uuid4().hex[:10]}",
        f"{time.time():.6f}",
    )
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0WORKERS",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": "U0WORKER1",
                "text": f"<@{BOT_USER_ID}> {QUESTION}",
                "ts": ts,
                "channel": channel,
                "team": TEAM,
                "event_ts": ts,
            },
        }
    )

    def deliver(worker: str, retry: str | None) -> httpx.Response:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        return httpx.post(f"{worker}/slack/events", content=body.encode(), headers=headers, timeout=10)

    assert deliver(one, None).status_code == 200
    # Slack thought the first delivery timed out and retries at once — to the other worker.
    assert deliver(two, "1").status_code == 200
    [update] = cluster.slack.wait_for("chat.update", channel=channel, timeout=60)
    assert "every two hours" in update.body["text"]
    assert deliver(two, "2").status_code == 200
    cluster.slack.assert_stays("chat.postMessage", 1, seconds=2.0, channel=channel)
    assert len(cluster.slack.calls("chat.update", channel=channel)) == 1
