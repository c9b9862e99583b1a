"""The maintainers' console (/admin) end to end: a real uvicorn on 127.0.0.1, Debian's headless Chromium
via Playwright, the real model and a real embedded Chroma.

The walk a maintainer takes: sign in with the admin token, upload files (chooser and drag and drop) and
see each one's result, find an upload listed and answerable, delete it, see a refused question as a gap,
turn it into an approved answer, and get that answer — marked approved — in the chat page. Markup in a
document title and in a user's comment stays text. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from test_web_browser import (  # noqa: F401  (fixtures used by name)
    ARTIFACTS,
    ROTA_DOC,
    ask,
    browser,
    page_factory,
    serve,
)

from bots.api import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from assistant.service import AnswerService

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("chromium"),
]

TOKEN = "console-browser-token"
IMG_PAYLOAD = '<img src=x onerror="window.__pmaXss = 1">'
XSS_DOC = f"""---
title: Staff handbook {IMG_PAYLOAD} edition
topic: workforce
publisher: Quillfield Surgery
published: 2020-01-15
reviewed: 2020-02-01
---
The Quillfield staff handbook explains annual leave requests. Staff request annual leave through the
practice manager at least four weeks ahead, and the practice manager replies within five working days.
"""
UPLOAD_TITLE = "Lindenbrook fire drill procedure"
UPLOAD_MD = f"""---
title: {UPLOAD_TITLE}
topic: premises
published: 2025-01-10
---
Fire drills at Lindenbrook Health Centre take place every six months, on the first Tuesday of March and
of September. The Lindenbrook fire marshal records each drill in the premises log.
"""
DROPPED_TXT = (
    "Lindenbrook visitor parking. Visitors to Lindenbrook Health Centre park in the north car park, and the "
    "reception team issues a visitor permit that must be shown on the dashboard at all times."
)
# Reviewed recently, so not due (the shared rota note has no review date and was published in 2024).
FRESH_ROTA_DOC = ROTA_DOC.replace("published: 2024-03-04", f"published: 2024-03-04\nreviewed: {date.today()}")
GAP_QUESTION = "What is the best recipe for sourdough bread with rye flour?"
APPROVED_TEXT = "The library does not cover baking; ask the practice's wellbeing lead [1]."


@pytest.fixture
def console_service(service_factory: Callable[..., AnswerService]) -> AnswerService:
    return service_factory(
        [("handbook/quillfield-rota.md", FRESH_ROTA_DOC), ("handbook/staff-handbook.md", XSS_DOC)]
    )


@pytest.fixture
def console_url(console_service: AnswerService) -> Iterator[str]:
    api = console_service.settings.api.model_copy(
        update={"admin_token": TOKEN, "rate_limit_per_minute": 10_000}
    )
    settings = console_service.settings.model_copy(update={"api": api})
    with serve(create_app(console_service, settings)) as url:
        yield url


FIRST_JOB_MS = 180_000


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def drop_file(page: Page, name: str, text: str) -> None:
    """Drag and drop a file onto the drop zone, as a browser does: a `drop` event carrying DataTransfer."""
    page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: "text/plain"}));
            const zone = document.getElementById("drop-zone");
            const init = {dataTransfer: data, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name, text],
    )


def test_console_walk(
    console_url: str,
    console_service: AnswerService,
    page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]],  # noqa: F811
    tmp_path: Path,
) -> None:
    page, seen = page_factory(width=1280, height=900)
    page.goto(f"{console_url}/admin")
    shot(page, "sign-in")

    # A wrong token is refused and nothing is shown; the right one, typed and sent with Enter, signs in.
    page.get_by_label("Admin token").fill("wrong")
    page.get_by_label("Admin token").press("Enter")
    page.get_by_text("was not accepted").wait_for()
    assert page.locator("#console").is_hidden()
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_label("Admin token").press("Enter")
    page.get_by_role("heading", name="Documents").wait_for()
    assert page.evaluate("sessionStorage.getItem('pma.adminToken')") == TOKEN
    assert TOKEN not in page.url

    # The markup in a title is shown as text; the old handbook is flagged for review.
    handbook = page.locator("#documents-body tr", has_text="Staff handbook")
    handbook.wait_for()
    assert IMG_PAYLOAD in handbook.locator("td").first.inner_text()
    assert page.locator("#documents-body img").count() == 0
    assert "Review due" in handbook.inner_text()
    assert (
        "Review due"
        not in page.locator("#documents-body tr", has_text="Quillfield surgery rota").inner_text()
    )
    shot(page, "documents")

    # Upload two files at once (one unreadable) with the file chooser, and a third by drag and drop.
    good = tmp_path / "fire-drills.md"
    good.write_text(UPLOAD_MD, encoding="utf-8")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    page.set_input_files("#upload-input", [str(good), str(bad)])
    # The first job of a process starts the low-priority embedding child (a model load), so it may take
    # longer than the default wait; the row says "indexing…" meanwhile.
    page.locator(".upload-result.upload-ok", has_text="fire-drills.md").wait_for(timeout=FIRST_JOB_MS)
    failed = page.locator(".upload-result.upload-failed", has_text="broken.pdf")
    failed.wait_for()
    assert "Could not read broken.pdf" in failed.inner_text()
    drop_file(page, "visitor-parking.txt", DROPPED_TXT)
    page.locator(".upload-result.upload-ok", has_text="visitor-parking.txt").wait_for()
    row = page.locator("#documents-body tr", has_text=UPLOAD_TITLE)
    row.wait_for()
    assert "uploads/fire-drills.md" in row.inner_text()
    shot(page, "uploaded")

    # Listed, and answerable.
    answer = httpx.post(
        f"{console_url}/v1/ask", json={"question": "How often are Lindenbrook fire drills?"}
    ).json()
    assert answer["grounded"] is True
    assert answer["sources"][0]["source"] == "uploads/fire-drills.md"

    # Filter and sort work from the keyboard-usable controls.
    page.get_by_label("Filter").fill("fire-drills")
    assert page.locator("#documents-body tr").count() == 1
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Chunks").click()
    assert page.locator("th[aria-sort='ascending']").count() == 1

    # Delete it: two presses, no modal dialog.
    delete = row.get_by_role("button", name=f"Delete {UPLOAD_TITLE}")
    delete.click()
    row.get_by_role("button", name="Confirm").click()
    row.wait_for(state="detached")
    sources = {d["source"] for d in httpx.get(f"{console_url}/v1/documents").json()}
    assert "uploads/fire-drills.md" not in sources
    assert "uploads/visitor-parking.txt" in sources

    # A refused question, and a thumbs down with markup in its comment, become gaps.
    refused = httpx.post(f"{console_url}/v1/ask", json={"question": GAP_QUESTION}).json()
    assert refused["grounded"] is False
    with httpx.Client(base_url=console_url) as user:  # one user: the session cookie owns the conversation
        rota = user.post("/v1/ask", json={"question": "How often do Quillfield reception staff rotate?"})
        rated = user.post(
            "/v1/feedback",
            json={"message_id": rota.json()["message_id"], "rating": "down", "comment": IMG_PAYLOAD},
        )
    assert rated.status_code < 300, rated.text
    page.get_by_role("button", name="Gaps").click()
    gap = page.locator("#gaps-list .gap", has_text=GAP_QUESTION)
    gap.wait_for()
    assert "asked 1×" in gap.inner_text()
    disliked = page.locator("#gaps-list .gap", has_text="thumbs down")
    assert IMG_PAYLOAD in disliked.locator(".comments").inner_text()
    assert page.locator("#gaps-list img").count() == 0
    shot(page, "gaps")

    # "Write an approved answer", from the keyboard: the form opens prefilled with the question.
    gap.get_by_role("button", name="Write an approved answer").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="New approved answer").wait_for()
    assert page.locator("#a-question").input_value() == GAP_QUESTION
    assert page.locator("#a-answer").evaluate("el => el === document.activeElement")
    page.locator("#a-answer").fill(APPROVED_TEXT)
    page.get_by_label("Add a document").fill("handbook/quillfield-rota.md")
    page.get_by_role("button", name="Add citation").click()
    assert "[1] handbook/quillfield-rota.md" in page.locator("#a-sources").inner_text()
    page.locator("#a-approved-by").fill("Jo Bloggs")
    page.get_by_role("button", name="Save approved answer").click()
    card = page.locator("#answers-list .answer", has_text=GAP_QUESTION)
    card.wait_for()
    assert "Approved by Jo Bloggs" in card.inner_text()
    shot(page, "approved")

    # The chat page serves it, marked approved, with its citation resolved to the rota note.
    chat, chat_seen = page_factory()
    chat.goto(console_url)
    ask(chat, GAP_QUESTION)
    reply = chat.locator(".msg-assistant").last
    assert reply.locator(".approved-badge").inner_text() == "Approved answer"
    assert "wellbeing lead" in reply.inner_text()
    assert "Approved answer by Jo Bloggs" in reply.inner_text()
    reply.locator("a.cite").first.click()
    assert "Quillfield surgery rota policy" in chat.locator("#sources-list .source.highlight").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    chat.screenshot(path=str(ARTIFACTS / "console-chat-approved.png"))

    # Retire it: still listed, marked retired, and no longer served.
    card.get_by_role("button", name=f"Retire approved answer: {GAP_QUESTION}").click()
    page.locator("#answers-list .answer.retired", has_text=GAP_QUESTION).wait_for()
    again = httpx.post(f"{console_url}/v1/ask", json={"question": GAP_QUESTION}).json()
    assert again["composer"] == "extractive"

    # Sources page: lists what the server has, and "sync now" reports plainly when it can't.
    page.get_by_role("button", name="Sources").click()
    page.get_by_role("button", name="Sync now").click()
    page.locator("#sync-status", has_text="No sources file").wait_for()
    assert "No web sources are configured" in page.locator("#sources-body").inner_text()
    shot(page, "sources")

    assert page.evaluate("typeof window.__pmaXss") == "undefined"
    assert chat.evaluate("typeof window.__pmaXss") == "undefined"
    for record in (seen, chat_seen):
        assert record["errors"] == []
        assert record["external"] == []
        assert record["dialogs"] == []


def test_console_sends_the_token_only_as_a_header(
    console_url: str,
    page_factory: Callable[..., tuple[Page, dict[str, list[Any]]]],  # noqa: F811
) -> None:
    page, seen = page_factory()
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{console_url}/admin")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Documents").wait_for()
    # Reload: the tab remembers the token (sessionStorage), and tabs are reachable from the keyboard.
    page.reload()
    page.get_by_role("heading", name="Documents").wait_for()
    page.get_by_role("button", name="Approved answers").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Approved answers").wait_for()
    admin_calls = [r for r in requests if "/v1/admin/" in r.url]
    assert admin_calls
    assert all(r.all_headers().get("authorization") == f"Bearer {TOKEN}" for r in admin_calls)
    assert all(TOKEN not in r.url for r in requests)
    page.get_by_role("button", name="Sign out").click()
    assert page.evaluate("sessionStorage.getItem('pma.adminToken')") is None
    assert seen["errors"] == []
