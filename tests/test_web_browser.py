"""The web chat end to end: a real uvicorn on 127.0.0.1 and Debian's headless Chromium via Playwright.

Covers what only a browser can show: the answer streaming in, citations opening their passage, feedback
reaching the service, corpus text with markup staying inert, the phone layout, and the message shown
when the server cannot be reached. Screenshots go to tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import CHROMIUM, need_chromium

from bots.api import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from assistant.service import AnswerService

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]

# The payloads sit verbatim in a sentence the question retrieves, so they reach both the answer text
# and the sources panel. If either were parsed as HTML, window.__pmaXss would be set or a dialog open.
SCRIPT_PAYLOAD = "<script>window.__pmaXss = 1; alert(1)</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pmaXss = 2; alert(2)">'
SAFE_HAVEN_DOC = f"""---
title: Brackenfold safe haven rule
topic: information-governance
publisher: Brackenfold Medical Centre
published: 2023-06-12
reviewed: 2026-06-01
url: https://example.org/brackenfold/safe-haven
---
The Brackenfold safe haven rule was adopted on 12 June 2023.

## What staff must never paste

Under the Brackenfold safe haven rule, staff must never paste {SCRIPT_PAYLOAD} or {IMG_PAYLOAD} into the
clinical system, because markup copied from emails can carry hidden content.

## Who checks it

The Brackenfold information governance lead audits the safe haven rule every quarter.
"""
ROTA_DOC = """---
title: Quillfield surgery rota policy
topic: workforce
publisher: Quillfield Surgery
published: 2024-03-04
url: https://example.org/quillfield/rota
---
The Quillfield surgery rota policy was adopted on 4 March 2024.

## Rotation

Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone queue
every two hours. The practice manager reviews the Quillfield rota policy each April.
"""
QUESTION = "What must staff never paste into the clinical system under the Brackenfold safe haven rule?"
ROTA_QUESTION = "How often do Quillfield reception staff rotate?"


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def web_service(service_factory: Callable[..., AnswerService]) -> AnswerService:
    return service_factory(
        [("governance/safe-haven.md", SAFE_HAVEN_DOC), ("handbook/quillfield-rota.md", ROTA_DOC)]
    )


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an app under a real uvicorn on a free 127.0.0.1 port, in a background thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def server_url(web_service: AnswerService) -> Iterator[str]:
    with serve(create_app(web_service, web_service.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    need_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_factory(browser: Browser) -> Iterator[Callable[..., tuple[Page, dict[str, list[Any]]]]]:
    """New pages that record dialogs, page errors and requests leaving 127.0.0.1."""
    contexts = []

    def make(width: int = 1280, height: int = 800) -> tuple[Page, dict[str, list[Any]]]:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        seen: dict[str, list[Any]] = {"dialogs": [], "errors": [], "external": []}

        def on_dialog(dialog: Any) -> None:
            seen["dialogs"].append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: seen["errors"].append(str(error)))
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(("http://127.0.0.1", "data:"))
                else seen["external"].append(request.url)
            ),
        )
        return page, seen

    yield make
    for context in contexts:
        context.close()


def count_streaming_renders(page: Page) -> None:
    """Count DOM changes inside an answer while it is still streaming (i.e. before the final event)."""
    page.evaluate(
        """() => {
            window.__streamingRenders = 0;
            new MutationObserver((records) => {
                for (const r of records) {
                    const item = r.target.closest ? r.target.closest('.msg-assistant') : null;
                    if (item && item.classList.contains('streaming') && r.addedNodes.length) {
                        window.__streamingRenders++;
                    }
                }
            }).observe(document.getElementById('messages'), {childList: true, subtree: true});
        }"""
    )


def ask(page: Page, question: str) -> None:
    """Type a question, send it with Enter, and wait until its answer has finished streaming."""
    done_before = page.locator(".msg-assistant:not(.streaming)").count()
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.msg-assistant:not(.streaming)').length > n", arg=done_before
    )


def test_chat_streams_cites_records_feedback_and_stays_inert(
    server_url: str,
    page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]],
    web_service: AnswerService,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page, seen = page_factory()
    page.goto(server_url)
    page.get_by_role("heading", name="Ask a question about running a GP practice").wait_for()
    # Topics come from /v1/documents.
    page.locator("#topic option[value='information-governance']").wait_for(state="attached")
    page.screenshot(path=str(ARTIFACTS / "chat-welcome.png"))

    count_streaming_renders(page)
    with page.expect_response("**/v1/ask/stream") as streamed:
        ask(page, QUESTION)
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    assert page.evaluate("window.__streamingRenders") >= 2, "the answer should appear in pieces"

    answer = page.locator(".msg-assistant").last
    assert "Brackenfold" in answer.inner_text()
    citation = answer.locator("a.cite").first
    citation.wait_for()

    # Markup in the corpus is shown as text, never run or parsed.
    assert page.evaluate("typeof window.__pmaXss") == "undefined"
    assert seen["dialogs"] == []
    assert (
        page.locator("#messages img, #messages script, #sources-list img, #sources-list script").count() == 0
    )
    page.get_by_text(SCRIPT_PAYLOAD, exact=False).first.wait_for()
    page.get_by_text(IMG_PAYLOAD, exact=False).first.wait_for()

    # The citation opens its passage in the sources panel, with title, date and link.
    citation.click()
    highlighted = page.locator("#sources-list .source.highlight")
    highlighted.wait_for()
    assert "Brackenfold safe haven rule" in highlighted.inner_text()
    assert "12\u00a0Jun\u00a02023" in highlighted.inner_text()
    assert SCRIPT_PAYLOAD in highlighted.locator(".passage").inner_text()
    link = highlighted.locator("a.source-title")
    assert link.get_attribute("href") == "https://example.org/brackenfold/safe-haven"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.evaluate("typeof window.__pmaXss") == "undefined"
    page.screenshot(path=str(ARTIFACTS / "chat-answer-desktop.png"))

    # 👍 reaches the service and the page says so.
    answer.get_by_role("button", name="Yes, helpful").click()
    answer.get_by_text("feedback recorded").wait_for()
    assert answer.get_by_role("button", name="Yes, helpful").get_attribute("aria-pressed") == "true"
    records = [f for f in web_service.feedback_list() if f.question == QUESTION]
    assert [r.rating for r in records] == ["up"]

    # A follow-up in the same conversation, sent from the keyboard, then a new conversation.
    ask(page, ROTA_QUESTION)
    assert page.locator(".msg-assistant").count() == 2
    assert "two hours" in page.locator(".msg-assistant").last.inner_text()
    page.get_by_role("button", name="New conversation").click()
    assert page.locator(".msg-assistant").count() == 0
    assert page.get_by_label("Your question").evaluate("el => el === document.activeElement")

    assert seen["errors"] == []
    assert seen["external"] == []
    assert seen["dialogs"] == []


def test_phone_width_layout(
    server_url: str, page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page, seen = page_factory(width=390, height=844)
    page.goto(server_url)
    ask(page, ROTA_QUESTION)
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "chat-answer-phone.png"))

    page.locator(".msg-assistant a.cite").first.click()
    panel = page.locator("#sources-panel")
    page.locator("#sources-list .source.highlight").wait_for()
    # It slides in; wait for it to settle, fully on screen.
    page.wait_for_function(
        "() => Math.abs(document.getElementById('sources-panel').getBoundingClientRect().x) < 1"
    )
    box = panel.bounding_box()
    assert box is not None
    assert round(box["width"]) == 390  # the panel covers the screen, fully on it
    page.screenshot(path=str(ARTIFACTS / "chat-sources-phone.png"))
    page.get_by_role("button", name="Close").click()
    page.wait_for_function("() => !document.getElementById('sources-panel').classList.contains('open')")
    assert seen["errors"] == []


def test_unreachable_server_shows_a_friendly_message(
    server_url: str, page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]]
) -> None:
    page, seen = page_factory()
    page.goto(server_url)
    page.route("**/v1/ask/stream", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Your question").fill(ROTA_QUESTION)
    page.get_by_role("button", name="Send").click()
    page.get_by_role("alert").filter(has_text="Can't reach the assistant").wait_for()
    assert page.locator(".msg-error").count() == 1
    assert seen["errors"] == []


def test_page_takes_an_api_key_when_the_server_needs_one(
    web_service: AnswerService, page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]]
) -> None:
    api = web_service.settings.api.model_copy(update={"keys": ["browser-key"], "rate_limit_per_minute": 1000})
    settings = web_service.settings.model_copy(update={"api": api})
    with serve(create_app(web_service, settings)) as url:
        page, seen = page_factory()
        page.goto(url)
        # The page learns from a 401 that a key is needed and offers to take one.
        page.get_by_role("alert").filter(has_text="API key").wait_for()
        page.get_by_role("button", name="API key").click()
        page.get_by_role("textbox", name="API key").fill("browser-key")
        page.get_by_role("button", name="Save").click()
        page.locator("#topic option[value='workforce']").wait_for(state="attached")
        assert page.evaluate("localStorage.getItem('pma.apiKey')") == "browser-key"
        ask(page, ROTA_QUESTION)
        assert "two hours" in page.locator(".msg-assistant").last.inner_text()
        assert seen["errors"] == []
