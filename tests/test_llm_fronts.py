"""A language model's answer through the front doors: tokens stream into the web page (headless
Chromium) and into a Slack message (`chat.update` calls reaching the fake Slack Web API), and both end
with the checked final text. The model is the fake OpenAI-compatible server, streaming slowly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, Request
from fake_slack import FakeSlack
from slack_sdk.signature import SignatureVerifier
from test_llm import ROTA, ROTA_Q, passage_number

from bots.api import create_app

SECRET = "llm-signing-secret"
DRAFT_ONLY = "Staff also get a £500 rota bonus"


def slow_reply(request: Request) -> Reply:
    n = passage_number(request, "every two hours")
    text = f"Quillfield reception staff rotate every two hours [{n}]. {DRAFT_ONLY} [{n}]."
    return Reply(text, token_delay_s=0.25)


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.default = slow_reply
        yield server


@pytest.mark.browser
def test_streamed_tokens_reach_the_page_then_the_checked_text_replaces_them(
    fake_llm: FakeOpenAI, service_factory: Any
) -> None:
    from conftest import CHROMIUM, need_chromium
    from test_web_browser import CHROMIUM_ARGS, serve

    need_chromium()
    from playwright.sync_api import sync_playwright

    service = service_factory([("workforce/rota.md", ROTA)], llm__base_url=fake_llm.base_url)
    service.warm_up()
    with serve(create_app(service)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_label("Your question").fill(ROTA_Q)
            page.get_by_label("Your question").press("Enter")
            # The draft, as the model writes it, while the message is still streaming.
            page.wait_for_function(
                "t => { const m = document.querySelector('.msg-assistant.streaming');"
                " return m && m.textContent.includes(t); }",
                arg="£500",
                timeout=30_000,
            )
            page.wait_for_selector(".msg-assistant:not(.streaming)", timeout=30_000)
            final = page.locator(".msg-assistant .answer-body").last.inner_text()
            assert "every two hours" in final
            assert "£500" not in final  # the citation check dropped it; the page shows the checked text
            assert page.locator(".msg-assistant a.cite").count() >= 1
        finally:
            browser.close()


def test_slack_message_is_updated_while_streaming_then_finalised_with_blocks(
    fake_llm: FakeOpenAI, service_factory: Any
) -> None:
    from test_slack import SlackClient, _serve, mention

    with FakeSlack() as slack_api:
        service = service_factory(
            [("workforce/rota.md", ROTA)],
            llm__base_url=fake_llm.base_url,
            slack__bot_token="xoxb-test",
            slack__signing_secret=SECRET,
            slack__api_url=slack_api.api_url,
            slack__stream_update_s=0.5,
        )
        service.warm_up()
        url, stop = _serve(create_app(service))
        try:
            client = SlackClient(url, SignatureVerifier(SECRET))
            channel = "CLLMSTREAM"
            response, _ = client.event(mention(channel, ROTA_Q))
            assert response.status_code == 200
            final = slack_api.wait_for(
                "chat.update", channel=channel, timeout=60, where=lambda c: bool(c.blocks)
            )[-1]
            updates = slack_api.calls("chat.update", channel=channel)
        finally:
            stop()
    drafts = [u for u in updates if not u.blocks]
    assert len(drafts) >= 2, [u.body for u in updates]  # the message grew as tokens arrived
    assert all(u.at <= final.at for u in drafts)
    assert any("every two hours" in str(u.get("text")) for u in drafts)
    gaps = [b.at - a.at for a, b in pairwise(drafts)]
    assert all(g >= 0.4 for g in gaps), gaps  # throttled: not one call per token
    text = json.dumps(final.blocks)
    assert "every two hours" in text
    assert "£500" not in text
    assert re.search(r"\[1\]", text)
