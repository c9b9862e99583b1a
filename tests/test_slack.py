"""Slack front door: Block Kit rendering as pure functions, then the real app end to end.

The end-to-end tests run the API from `bots.api.create_app` under a real uvicorn on 127.0.0.1, post
requests signed with the signing secret exactly as Slack does, and read what the app sent back to Slack
from a fake Web API server (`fake_slack.FakeSlack`) — no Slack, and nothing of our own code mocked.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import yaml
from fake_slack import BOT_ID, BOT_USER_ID, Call, FakeSlack
from slack_sdk.signature import SignatureVerifier

from assistant.config import SlackSettings
from assistant.owners import slack_owner
from assistant.types import Answer, Source
from bots.slack.blocks import (
    ACTION_FEEDBACK_DOWN,
    ACTION_FEEDBACK_UP,
    ACTION_SHARE,
    MAX_SOURCES,
    PLACEHOLDER_TEXT,
    ShareRef,
    answer_blocks,
    escape,
    fallback_text,
    format_date,
    home_view,
    source_line,
    sources_block,
    to_mrkdwn,
    topic_label,
)
from bots.slack.handlers import is_direct_message
from bots.slack.inbound import conversation_key, question_text

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.service import AnswerService

MANIFEST = Path(__file__).resolve().parents[1] / "bots" / "slack" / "manifest.yml"

# --- Block Kit and text: pure functions -------------------------------------------------------------


def _source(n: int, **overrides: Any) -> Source:
    fields: dict[str, Any] = {
        "n": n,
        "title": f"Guide {n}",
        "source": f"corpus/guide-{n}.md",
        "url": f"https://example.org/guide/{n}",
        "publisher": "NHS England",
        "published": "2019-01-15",
        "text": "passage",
    }
    fields.update(overrides)
    return Source(**fields)


def _answer(**overrides: Any) -> Answer:
    fields: dict[str, Any] = {
        "answer": "The review made **seven** recommendations [1].",
        "grounded": True,
        "sources": [_source(1)],
        "conversation_id": "conv-1",
        "message_id": "msg-1",
    }
    fields.update(overrides)
    return Answer(**fields)


def _block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any] | None:
    return next((b for b in blocks if b.get("block_id") == block_id), None)


def _texts(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in a list of blocks, for "does it say X" assertions."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out.extend(e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str))
        out.extend(e["text"]["text"] for e in b.get("elements", []) if isinstance(e.get("text"), dict))
    return "\n".join(out)


def _buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**Seven** recommendations [1]", "*Seven* recommendations [1]"),
        ("__bold__ and *italic*", "*bold* and _italic_"),
        ("Fewer than <5 staff & no > sign", "Fewer than &lt;5 staff &amp; no &gt; sign"),
        (
            "See [the report](https://example.org/a?b=1&c=2) [2]",
            "See <https://example.org/a?b=1&amp;c=2|the report> [2]",
        ),
        ("## Background\n- first\n* second", "*Background*\n• first\n• second"),
        ("2 * 3 * 4 and ~~old~~", "2 * 3 * 4 and ~old~"),
        ("<script>**x**</script>", "&lt;script&gt;*x*&lt;/script&gt;"),
    ],
)
def test_markdown_becomes_escaped_slack_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_escape_touches_only_slack_control_characters() -> None:
    assert escape("A&E <urgent> 'quoted' \"x\"") == "A&amp;E &lt;urgent&gt; 'quoted' \"x\""


@pytest.mark.parametrize(
    ("value", "shown"),
    [("2019-01-15", "15 Jan 2019"), ("2020-07", "Jul 2020"), ("2019", "2019"), (None, ""), ("soon", "soon")],
)
def test_dates_read_the_uk_way(value: str | None, shown: str) -> None:
    assert format_date(value) == shown


@pytest.mark.parametrize(
    ("topic", "label"),
    [
        ("partnership-review", "Partnership review"),
        ("igpm", "IGPM"),
        ("pcn", "PCN"),
        ("workforce", "Workforce"),
    ],
)
def test_topic_labels(topic: str, label: str) -> None:
    assert topic_label(topic) == label


def test_source_line_links_title_and_names_publisher_and_date() -> None:
    line = source_line(_source(3, title="Q&A <draft>", url="https://example.org/x|y"))
    assert line == "[3] <https://example.org/x%7Cy|Q&amp;A &lt;draft&gt;> — NHS England, 15 Jan 2019"
    assert source_line(_source(4, url=None, publisher=None, published=None)) == "[4] Guide 4"


def test_sources_block_lists_at_most_five_in_citation_order() -> None:
    block = sources_block([_source(n) for n in (7, 2, 5, 1, 6, 3, 4)])
    assert block is not None
    assert block["block_id"] == "sources"
    texts = [e["text"] for e in block["elements"]]
    assert texts[0] == "*Sources*"
    assert len(texts) == 1 + MAX_SOURCES
    assert [t.split("]")[0] for t in texts[1:]] == ["[1", "[2", "[3", "[4", "[5"]
    assert sources_block([]) is None


def test_answer_blocks_show_answer_notes_sources_and_feedback_buttons() -> None:
    blocks = answer_blocks(_answer(notes=["Superseded: the 2014 contract changed this."]))
    assert blocks[0]["text"]["text"] == "The review made *seven* recommendations [1]."
    notes = _block(blocks, "notes")
    assert notes is not None
    assert "Superseded" in notes["elements"][0]["text"]
    assert _block(blocks, "sources") is not None
    buttons = _buttons(blocks)
    assert set(buttons) == {ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}
    assert buttons[ACTION_FEEDBACK_UP]["value"] == buttons[ACTION_FEEDBACK_DOWN]["value"] == "msg-1"
    assert len(blocks) <= 50


def test_refusal_says_what_the_guidance_covers() -> None:
    refusal = _answer(
        answer="I can't find that in the guidance I have.",
        grounded=False,
        sources=[],
        nearest_topics=["partnership-review", "igpm", "GP Partnership Review: PCN, system-voice & digital"],
    )
    blocks = answer_blocks(refusal)
    topics = _block(blocks, "nearest_topics")
    assert topics is not None
    assert topics["text"]["text"].splitlines()[1:] == [
        "• Partnership review",
        "• IGPM",
        "• GP Partnership Review: PCN, system-voice &amp; digital",
    ]
    assert _block(blocks, "sources") is None


def test_refusal_that_already_names_the_topics_is_not_repeated() -> None:
    refusal = _answer(
        answer="The guidance I hold doesn't cover that. The nearest topics it does cover are: IGPM; PCNs.",
        grounded=False,
        sources=[],
        nearest_topics=["IGPM", "PCNs"],
    )
    assert _block(answer_blocks(refusal), "nearest_topics") is None


def test_personal_data_warning_has_no_buttons_or_sources() -> None:
    warning = _answer(
        answer="Your question seems to include an NHS number.",
        grounded=False,
        personal_data=["NHS number"],
        message_id=None,
        sources=[_source(1)],
    )
    blocks = answer_blocks(warning)
    assert len(blocks) == 1
    assert not _buttons(blocks)


def test_command_answer_echoes_question_and_offers_share() -> None:
    ref = ShareRef(conversation_id="conv-1", message_id="msg-1")
    blocks = answer_blocks(_answer(), question="What is <IGPM>?", share=ref)
    assert blocks[0]["elements"][0]["text"] == "You asked: _What is &lt;IGPM&gt;?_"
    share = _buttons(blocks)[ACTION_SHARE]
    assert ShareRef.decode(share["value"]) == ref
    assert len(share["value"]) <= 2000
    shared = answer_blocks(_answer(), question="What is IGPM?", asked_by="U123")
    assert shared[0]["elements"][0]["text"].startswith("<@U123> asked:")


@pytest.mark.parametrize("value", ["", "not json", "[]", '{"c": "x"}'])
def test_share_ref_rejects_garbage(value: str) -> None:
    assert ShareRef.decode(value) is None


def test_long_answers_split_into_sections_slack_accepts() -> None:
    long_text = "\n\n".join(f"Paragraph {i} " + "word " * 120 for i in range(20))
    blocks = answer_blocks(_answer(answer=long_text))
    sections = [b for b in blocks if b["block_id"].startswith("answer-")]
    assert len(sections) > 1
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert len(fallback_text(_answer(answer=long_text))) <= 3000


def test_home_view_lists_topics_with_counts_and_how_to_ask() -> None:
    view = home_view({"partnership-review": 9, "igpm": 1}, "/askpm")
    assert view["type"] == "home"
    topics = _block(view["blocks"], "topics")
    assert topics is not None
    assert "*Partnership review*: 9 documents" in topics["text"]["text"]
    assert "*IGPM*: 1 document" in topics["text"]["text"]
    assert "/askpm" in _texts(view["blocks"])
    empty = home_view({}, "/askpm")
    assert "No guidance has been loaded yet" in _texts(empty["blocks"])


@pytest.mark.parametrize(
    ("raw", "question"),
    [
        (f"<@{BOT_USER_ID}> What did the review   recommend?", "What did the review recommend?"),
        (f"<@{BOT_USER_ID}> ask <@U999> about A&amp;E &lt;5 staff", "ask @someone about A&E <5 staff"),
        (
            f"<@{BOT_USER_ID}> see <https://example.org|the report> in <#C1|general>",
            "see the report in #general",
        ),
        (f"<@{BOT_USER_ID}>", ""),
    ],
)
def test_question_text_undoes_slack_markup(raw: str, question: str) -> None:
    assert question_text(raw, BOT_USER_ID) == question


def test_conversation_key_is_stable_per_thread() -> None:
    assert conversation_key("T1", "C1", "171.0001") == "slack:T1:C1:171.0001"
    assert conversation_key(None, "C1", "171.0001") != conversation_key("T2", "C1", "171.0001")


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        ({"type": "message", "channel_type": "im", "text": "hi", "user": "U1"}, True),
        ({"type": "message", "channel_type": "im", "subtype": "message_changed"}, False),
        ({"type": "message", "channel_type": "im", "bot_id": "B1", "text": "hi"}, False),
        ({"type": "message", "channel_type": "channel", "text": "hi", "user": "U1"}, False),
    ],
)
def test_only_peoples_new_direct_messages_are_answered(event: dict[str, Any], matches: bool) -> None:
    assert is_direct_message(event) is matches


def test_manifest_declares_what_the_app_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"app_mentions:read", "chat:write", "im:history", "im:read", "im:write", "commands"}
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "app_home_opened",
    }
    assert settings["event_subscriptions"]["request_url"] == "https://YOUR-HOST/slack/events"
    assert settings["interactivity"]["is_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SlackSettings().command
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


# --- the running app ------------------------------------------------------------------------------

SECRET = "test-signing-secret"
TEAM = "T0TEST001"
USER = "U0ASKER01"
SLACK_ACK_DEADLINE_S = 3.0
GROUNDED_QUESTION = "What did the GP Partnership Review recommend?"


@dataclass
class SlackClient:
    """Posts Slack-shaped requests to one running API, signed like Slack signs them."""

    base_url: str
    verifier: SignatureVerifier

    def post(
        self,
        body: str,
        *,
        path: str = "/slack/events",
        content_type: str = "application/json",
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, float]:
        """Returns the response and how long Slack would have waited for it, in seconds."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.verifier.generate_signature(timestamp=ts, body=body),
            **(headers or {}),
        }
        started = time.perf_counter()
        response = httpx.post(self.base_url + path, content=body.encode("utf-8"), headers=sent, timeout=10)
        return response, time.perf_counter() - started

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **kw: Any
    ) -> tuple[httpx.Response, float]:
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0TEST001",
            "type": "event_callback",
            "event_id": event_id or _id("Ev"),
            "event_time": int(time.time()),
            "event": event,
        }
        return self.post(json.dumps(body), **kw)

    def form(self, fields: dict[str, str], **kw: Any) -> tuple[httpx.Response, float]:
        return self.post(urlencode(fields), content_type="application/x-www-form-urlencoded", **kw)

    def click(self, payload: dict[str, Any], **kw: Any) -> tuple[httpx.Response, float]:
        body = "payload=" + quote(json.dumps(payload))
        return self.post(body, content_type="application/x-www-form-urlencoded", **kw)


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10].upper()


def _ts() -> str:
    return f"{time.time():.6f}"


def mention(
    channel: str, text: str, *, ts: str | None = None, thread_ts: str | None = None
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": USER,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts or _ts(),
        "channel": channel,
        "team": TEAM,
        "event_ts": _ts(),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def thread_conversation(service: AnswerService, channel: str, thread: str, user: str = USER) -> Any:
    """The stored conversation of `user`'s turns in one Slack thread (None if there is none)."""
    owner = slack_owner(TEAM, user)
    conversation_id = service.history.find_thread_conversation(conversation_key(TEAM, channel, thread), owner)
    return service.conversation(conversation_id, owner) if conversation_id else None


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (the service's state has no change signal)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _serve(app: Any) -> tuple[str, Callable[[], None]]:
    """Run an ASGI app under a real uvicorn on a free 127.0.0.1 port, in a background thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start")

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture(scope="module")
def slack_settings(corpus_service: AnswerService, fake_slack: FakeSlack) -> Settings:
    slack = SlackSettings(bot_token="xoxb-test-token", signing_secret=SECRET, api_url=fake_slack.api_url)
    return corpus_service.settings.model_copy(update={"slack": slack})


@pytest.fixture(scope="module")
def api_pair(
    corpus_service: AnswerService, slack_settings: Settings
) -> Iterator[tuple[SlackClient, SlackClient]]:
    """Two API processes' worth of apps (separate Bolt apps, one app database), as behind a balancer."""
    from bots.api import create_app

    verifier = SignatureVerifier(SECRET)
    first_url, stop_first = _serve(create_app(corpus_service, slack_settings))
    second_url, stop_second = _serve(create_app(corpus_service, slack_settings))
    try:
        yield SlackClient(first_url, verifier), SlackClient(second_url, verifier)
    finally:
        stop_first()
        stop_second()


@pytest.fixture(scope="module")
def slack(api_pair: tuple[SlackClient, SlackClient]) -> SlackClient:
    return api_pair[0]


@dataclass
class Mentioned:
    channel: str
    ts: str
    placeholder: Call
    update: Call


def ask_by_mention(slack: SlackClient, fake: FakeSlack, text: str) -> Mentioned:
    """Mention the app in a fresh channel and wait for the placeholder to become the answer."""
    channel = _id("C")
    event = mention(channel, text)
    response, elapsed = slack.event(event)
    assert response.status_code == 200
    assert elapsed < SLACK_ACK_DEADLINE_S
    [update] = fake.wait_for("chat.update", channel=channel)
    [placeholder] = fake.calls("chat.postMessage", channel=channel)
    return Mentioned(channel=channel, ts=event["ts"], placeholder=placeholder, update=update)


@pytest.fixture(scope="module")
def answered(slack: SlackClient, fake_slack: FakeSlack) -> Mentioned:
    """One grounded answer to a mention, shared by the tests that need an answered message."""
    return ask_by_mention(slack, fake_slack, GROUNDED_QUESTION)


def test_url_verification_challenge_is_echoed(slack: SlackClient) -> None:
    response, _ = slack.post(json.dumps({"token": "x", "challenge": "ch4llenge", "type": "url_verification"}))
    assert response.status_code == 200
    assert "ch4llenge" in response.text


def test_mention_gets_one_threaded_answer_with_sources(answered: Mentioned, fake_slack: FakeSlack) -> None:
    posts = fake_slack.calls("chat.postMessage", channel=answered.channel)
    assert posts == [answered.placeholder]
    assert answered.placeholder.body["text"] == PLACEHOLDER_TEXT
    assert answered.placeholder.body["thread_ts"] == answered.ts
    assert answered.update.body["ts"] == answered.placeholder.reply["ts"]
    blocks = answered.update.blocks
    sources = _block(blocks, "sources")
    assert sources is not None, _texts(blocks)
    assert 2 <= len(sources["elements"]) <= 1 + MAX_SOURCES
    assert set(_buttons(blocks)) >= {ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}
    assert answered.update.body["text"]  # notification fallback


def test_bad_or_stale_signature_is_rejected_and_does_nothing(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    channel = _id("C")
    event = mention(channel, GROUNDED_QUESTION)
    forged, _ = slack.event(event, signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    stale, _ = slack.event(event, timestamp=int(time.time()) - 10 * 60)
    assert stale.status_code == 401
    fake_slack.assert_stays("chat.postMessage", 0, seconds=1.0, channel=channel)
    assert not fake_slack.calls(channel=channel)


def test_retried_event_is_not_answered_twice_even_on_another_process(
    api_pair: tuple[SlackClient, SlackClient], fake_slack: FakeSlack
) -> None:
    first, second = api_pair
    channel, event_id = _id("C"), _id("Ev")
    event = mention(channel, GROUNDED_QUESTION)
    response, _ = first.event(event, event_id=event_id)
    assert response.status_code == 200
    fake_slack.wait_for("chat.update", channel=channel)
    for client, attempt in ((second, "1"), (first, "2")):
        retry, _ = client.event(
            event,
            event_id=event_id,
            headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retry.status_code == 200
    fake_slack.assert_stays("chat.postMessage", 1, seconds=1.5, channel=channel)
    assert len(fake_slack.calls("chat.update", channel=channel)) == 1


def test_follow_up_mention_in_thread_continues_the_conversation(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    channel, root = _id("C"), _ts()
    slack.event(mention(channel, GROUNDED_QUESTION, ts=root))
    fake_slack.wait_for("chat.update", channel=channel)
    slack.event(mention(channel, "and when did that start?", thread_ts=root))
    fake_slack.wait_for("chat.update", 2, channel=channel)
    posts = fake_slack.calls("chat.postMessage", channel=channel)
    assert [p.body["thread_ts"] for p in posts] == [root, root]
    conversation = thread_conversation(corpus_service, channel, root)
    assert conversation is not None
    # Compared as a set: the history orders turns by a timestamp with one-second resolution.
    assert {t.question for t in conversation.turns} == {GROUNDED_QUESTION, "and when did that start?"}
    assert len(conversation.turns) == 2


def test_feedback_click_is_stored_and_acknowledged(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService, answered: Mentioned
) -> None:
    message_id = _buttons(answered.update.blocks)[ACTION_FEEDBACK_UP]["value"]
    hook = _id("fb")
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "team_id": TEAM},
        "api_app_id": "A0TEST001",
        "team": {"id": TEAM},
        "channel": {"id": answered.channel},
        "container": {
            "type": "message",
            "message_ts": answered.update.body["ts"],
            "channel_id": answered.channel,
        },
        "message": {"ts": answered.update.body["ts"], "blocks": answered.update.blocks},
        "trigger_id": "1.2.3",
        "response_url": fake_slack.response_url(hook),
        "actions": [
            {
                "type": "button",
                "action_id": ACTION_FEEDBACK_UP,
                "block_id": "answer_actions",
                "value": message_id,
                "action_ts": _ts(),
            }
        ],
    }
    response, elapsed = slack.click(payload, path="/slack/interactions")
    assert response.status_code == 200
    assert elapsed < SLACK_ACK_DEADLINE_S
    stored = wait_until(
        lambda: [
            f for f in corpus_service.feedback_list() if f.message_id == message_id and f.rating == "up"
        ],
        what="the 👍 to be stored",
    )
    assert stored[0].question == GROUNDED_QUESTION
    [ack] = fake_slack.wait_for("response", where=lambda c: c.path.endswith(hook))
    assert ack.body["response_type"] == "ephemeral"
    assert "recorded" in ack.body["text"]


def test_slash_command_acks_in_time_and_answers_privately_with_share(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    channel, hook = _id("C"), _id("cmd")
    fields = {
        "token": "legacy",
        "team_id": TEAM,
        "channel_id": channel,
        "user_id": USER,
        "command": "/askpm",
        "text": GROUNDED_QUESTION,
        "response_url": fake_slack.response_url(hook),
        "trigger_id": "1.2.3",
    }
    response, elapsed = slack.form(fields)
    assert response.status_code == 200
    assert elapsed < SLACK_ACK_DEADLINE_S
    assert PLACEHOLDER_TEXT in response.text

    [answer] = fake_slack.wait_for("response", where=lambda c: c.path.endswith(hook))
    assert answer.body["response_type"] == "ephemeral"
    assert answer.body["replace_original"] is True
    assert _block(answer.blocks, "sources") is not None
    share = _buttons(answer.blocks)[ACTION_SHARE]

    share_hook = _id("share")
    payload = {
        "type": "block_actions",
        "user": {"id": USER},
        "team": {"id": TEAM},
        "channel": {"id": channel},
        "container": {"type": "message", "is_ephemeral": True, "channel_id": channel},
        "trigger_id": "1.2.4",
        "response_url": fake_slack.response_url(share_hook),
        "actions": [
            {"type": "button", "action_id": ACTION_SHARE, "value": share["value"], "action_ts": _ts()}
        ],
    }
    clicked, _ = slack.click(payload)
    assert clicked.status_code == 200
    posted, deleted = fake_slack.wait_for("response", 2, where=lambda c: c.path.endswith(share_hook))
    assert posted.body["response_type"] == "in_channel"
    assert f"<@{USER}> asked" in _texts(posted.blocks)
    assert _block(posted.blocks, "sources") is not None
    assert deleted.body["delete_original"] is True


def test_nhs_number_gets_private_warning_and_nothing_is_stored(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    channel, ts = _id("C"), _ts()
    question = "Patient 943 476 5919 wants to register, what do I do?"
    response, _ = slack.event(mention(channel, question, ts=ts))
    assert response.status_code == 200
    [warning] = fake_slack.wait_for("chat.postEphemeral", channel=channel)
    assert warning.body["user"] == USER
    assert "NHS number" in warning.body["text"]
    fake_slack.assert_stays("chat.postMessage", 0, seconds=1.0, channel=channel)
    assert not fake_slack.calls("chat.update", channel=channel)
    assert thread_conversation(corpus_service, channel, ts) is None
    assert not [u for u in corpus_service.unanswered() if "5919" in u.question]


def test_slash_command_with_nhs_number_is_refused_in_the_ack(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    hook = _id("cmd")
    fields = {
        "team_id": TEAM,
        "channel_id": _id("C"),
        "user_id": USER,
        "command": "/askpm",
        "text": "Is 943 476 5919 registered with us?",
        "response_url": fake_slack.response_url(hook),
        "trigger_id": "1.2.3",
    }
    response, _ = slack.form(fields)
    assert response.status_code == 200
    assert "NHS number" in response.text
    # Nothing follows at the response_url: the ack's warning was the whole reply.
    fake_slack.assert_stays("response", 0, seconds=1.0, where=lambda c: c.path.endswith(hook))


def test_direct_message_is_answered_in_the_dm(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    channel = _id("D")
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": USER,
        "text": GROUNDED_QUESTION,
        "ts": _ts(),
        "channel": channel,
    }
    slack.event(dm)
    [update] = fake_slack.wait_for("chat.update", channel=channel)
    [post] = fake_slack.calls("chat.postMessage", channel=channel)
    assert post.body.get("thread_ts") is None
    assert _block(update.blocks, "sources") is not None
    conversation = thread_conversation(corpus_service, channel, "dm")
    assert conversation is not None
    assert len(conversation.turns) == 1

    # The bot's own placeholder echoes back as a message.im event: it must not be answered.
    own = {**dm, "user": BOT_USER_ID, "bot_id": BOT_ID, "text": PLACEHOLDER_TEXT, "ts": _ts()}
    slack.event(own)
    fake_slack.assert_stays("chat.postMessage", 1, seconds=1.0, channel=channel)


def test_app_home_lists_topics(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    user = _id("U")
    response, _ = slack.event({"type": "app_home_opened", "user": user, "channel": _id("D"), "tab": "home"})
    assert response.status_code == 200
    [publish] = fake_slack.wait_for("views.publish", user_id=user)
    view = publish.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    text = _texts(view["blocks"])
    topics = corpus_service.topics()
    assert topics
    for topic, count in topics.items():
        assert f"*{topic_label(topic)}*: {count} document" in text


def test_socket_mode_needs_an_app_token(corpus_service: AnswerService, slack_settings: Settings) -> None:
    from bots.slack import SlackNotConfigured
    from bots.slack.socket import socket_mode_handler

    with pytest.raises(SlackNotConfigured, match="PMA_SLACK__APP_TOKEN"):
        socket_mode_handler(corpus_service, slack_settings)
    with_token = slack_settings.model_copy(
        update={"slack": slack_settings.slack.model_copy(update={"app_token": "xapp-1-test"})}
    )
    handler = socket_mode_handler(corpus_service, with_token)
    assert handler.app_token == "xapp-1-test"
    assert handler.client.web_client.base_url == slack_settings.slack.api_url


def test_dm_conversation_id_is_random_and_unreachable_over_http(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    """Row 5: a DM's conversation id used to be `slack:{team}:{channel}:dm`, which any API key could read
    and append to. Now it is random, and Slack conversations have an owner no HTTP caller can be."""
    from fastapi.testclient import TestClient

    from bots.api import create_app

    channel = _id("D")
    dm = {"type": "message", "channel_type": "im", "user": USER, "text": GROUNDED_QUESTION, "ts": _ts()}
    slack.event({**dm, "channel": channel})
    fake_slack.wait_for("chat.update", channel=channel)
    conversation = thread_conversation(corpus_service, channel, "dm")
    assert conversation is not None
    conversation_id = conversation.conversation_id
    assert re.fullmatch(r"[0-9a-f]{32}", conversation_id), conversation_id
    assert TEAM not in conversation_id
    assert channel not in conversation_id
    # Another DM channel of the same user gets an unrelated id.
    other_channel = _id("D")
    slack.event({**dm, "channel": other_channel, "ts": _ts()})
    fake_slack.wait_for("chat.update", channel=other_channel)
    other = thread_conversation(corpus_service, other_channel, "dm")
    assert other is not None
    assert other.conversation_id != conversation_id

    message_id = conversation.turns[0].message_id
    for headers in ({}, {"X-API-Key": "key-of-someone-else"}):
        keys = ["key-of-someone-else"] if headers else []
        api = TestClient(
            create_app(
                corpus_service,
                corpus_service.settings.model_copy(
                    update={"api": corpus_service.settings.api.model_copy(update={"keys": keys})}
                ),
            )
        )
        for guess in (conversation_id, conversation_key(TEAM, channel, "dm")):
            read = api.get(f"/v1/conversations/{guess}", headers=headers)
            assert read.status_code == 404
            assert read.json() == {"detail": "Unknown conversation."}
            steer = api.post(
                "/v1/ask",
                json={"question": "and when did that start?", "conversation_id": guess},
                headers=headers,
            )
            assert steer.status_code == 404
            assert steer.json() == {"detail": "Unknown conversation."}
        rate = api.post("/v1/feedback", json={"message_id": message_id, "rating": "down"}, headers=headers)
        assert rate.status_code == 404
    unchanged = thread_conversation(corpus_service, channel, "dm")
    assert unchanged is not None
    assert [t.question for t in unchanged.turns] == [GROUNDED_QUESTION]
    assert not [f for f in corpus_service.feedback_list() if f.message_id == message_id]


def test_someone_else_in_the_thread_gets_their_own_conversation(
    slack: SlackClient, fake_slack: FakeSlack, corpus_service: AnswerService
) -> None:
    """A colleague following up in someone's thread is answered, but does not join (or steer) the
    asker's conversation, and cannot rate the asker's answer."""
    channel, root, colleague = _id("C"), _ts(), _id("U")
    slack.event(mention(channel, GROUNDED_QUESTION, ts=root))
    [first] = fake_slack.wait_for("chat.update", channel=channel)
    follow = {**mention(channel, "and when did that start?", thread_ts=root), "user": colleague}
    slack.event(follow)
    fake_slack.wait_for("chat.update", 2, channel=channel)
    mine = thread_conversation(corpus_service, channel, root)
    theirs = thread_conversation(corpus_service, channel, root, user=colleague)
    assert mine is not None
    assert theirs is not None
    assert mine.conversation_id != theirs.conversation_id
    assert [t.question for t in mine.turns] == [GROUNDED_QUESTION]
    assert [t.question for t in theirs.turns] == ["and when did that start?"]

    message_id = _buttons(first.blocks)[ACTION_FEEDBACK_UP]["value"]
    hook = _id("fb")
    payload = {
        "type": "block_actions",
        "user": {"id": colleague, "team_id": TEAM},
        "team": {"id": TEAM},
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": first.body["ts"], "channel_id": channel},
        "trigger_id": "1.2.5",
        "response_url": fake_slack.response_url(hook),
        "actions": [
            {"type": "button", "action_id": ACTION_FEEDBACK_UP, "value": message_id, "action_ts": _ts()}
        ],
    }
    clicked, _ = slack.click(payload, path="/slack/interactions")
    assert clicked.status_code == 200
    [reply] = fake_slack.wait_for("response", where=lambda c: c.path.endswith(hook))
    assert "recorded" not in reply.body["text"].replace("wasn't recorded", "")
    assert not [f for f in corpus_service.feedback_list() if f.message_id == message_id]
