"""Block Kit rendering: pure functions from service values to Slack message and view payloads.

Kept free of Bolt and network calls so every layout rule (escaping, at most five sources, refusals naming
what the guidance covers, button values) is unit-tested without Slack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from assistant.types import Answer, Source

Block = dict[str, Any]

PLACEHOLDER_TEXT = "Looking through the guidance…"
ERROR_TEXT = "Sorry, something went wrong while I was answering. Please try again in a minute."
MAX_SOURCES = 5

ACTION_FEEDBACK_UP = "feedback_up"
ACTION_FEEDBACK_DOWN = "feedback_down"
ACTION_SHARE = "share_answer"

# Slack limits: 3000 characters of section text, 10 context elements, 2000 characters in a button value.
_SECTION_LIMIT = 3000
_CONTEXT_LIMIT = 10
_FALLBACK_LIMIT = 3000


# --- text ------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup (`&`, `<`, `>`); nothing else is encoded."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_url(url: str) -> str:
    # Inside <url|label> a `|` or `>` would end the URL early; percent-encode them (and spaces).
    safe = url.replace(" ", "%20").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return safe.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """`<url|label>` with the label escaped, or just the escaped label when there is no URL."""
    if not url:
        return escape(label)
    return f"<{_link_url(url)}|{escape(label)}>"


_MD_LINK_RE = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_HEADING_RE = re.compile(r"^[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_BULLET_RE = re.compile(r"^([ \t]*)[-*+][ \t]+", re.MULTILINE)
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC_RE = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x00"


def _inline(text: str) -> str:
    text = escape(text)
    text = _BOLD_RE.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_RE.sub(r"_\1_", text)
    text = _STRIKE_RE.sub(r"~\1~", text)
    return text.replace(_BOLD_MARK, "*")


def to_mrkdwn(markdown: str) -> str:
    """Convert the service's Markdown to Slack mrkdwn.

    `**bold**` becomes `*bold*` (Slack's single asterisks), `*italic*` becomes `_italic_`, headings become
    bold lines, bullets become `•`, `[label](url)` becomes `<url|label>`; `&`, `<`, `>` are escaped so a
    question about "<5 staff" cannot turn into a broken link. Citations such as `[1]` pass through.
    """
    text = _HEADING_RE.sub(r"**\1**", markdown)
    text = _BULLET_RE.sub(r"\1• ", text)
    out: list[str] = []
    last = 0
    for m in _MD_LINK_RE.finditer(text):
        out.append(_inline(text[last : m.start()]))
        out.append(link(m.group(2), m.group(1)))
        last = m.end()
    out.append(_inline(text[last:]))
    return "".join(out).strip()


def _chunks(text: str, limit: int = _SECTION_LIMIT) -> list[str]:
    """Split long text at paragraph (then line, then word) boundaries into pieces Slack accepts."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def format_date(value: str | None) -> str:
    """ISO dates as UK readers write them (`2019-01-15` → `15 Jan 2019`); anything else unchanged."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value[:10])
        return f"{day.day} {day:%b %Y}"
    except ValueError:
        pass
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if m and 1 <= int(m.group(2)) <= 12:
        return date(int(m.group(1)), int(m.group(2)), 1).strftime("%b %Y")
    return value


_SLUG_RE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def topic_label(topic: str) -> str:
    """A readable topic name: `partnership-review` → `Partnership review`, short codes upper-cased."""
    words = topic.replace("_", "-").split("-")
    if len(words) == 1 and len(topic) <= 4:
        return topic.upper()
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


# --- blocks ----------------------------------------------------------------------------------------


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(texts: list[str], block_id: str) -> Block:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": t} for t in texts[:_CONTEXT_LIMIT]],
    }


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def source_line(source: Source) -> str:
    """`[n] <url|Title> — Publisher, 15 Jan 2019`: enough to judge and open a source from the message."""
    line = f"[{source.n}] {link(source.url, source.title)}"
    extra = [escape(p) for p in (source.publisher, format_date(source.published)) if p]
    if extra:
        line += " — " + ", ".join(extra)
    return line


def nearest_topics_block(answer: Answer) -> Block | None:
    """For a refusal: what the guidance does cover, unless the refusal text already names it all."""
    if answer.grounded or not answer.nearest_topics:
        return None
    if all(t in answer.answer for t in answer.nearest_topics):
        return None
    labels = [topic_label(t) if _SLUG_RE.fullmatch(t) else t for t in answer.nearest_topics]
    lines = "\n".join(f"• {escape(label)}" for label in labels)
    return _section(f"*The nearest guidance I do have:*\n{lines}", block_id="nearest_topics")


def sources_block(sources: list[Source]) -> Block | None:
    """A context block listing at most five cited sources in citation order, or None when there are none."""
    if not sources:
        return None
    ordered = sorted(sources, key=lambda s: s.n)[:MAX_SOURCES]
    return _context(["*Sources*", *(source_line(s) for s in ordered)], block_id="sources")


@dataclass(frozen=True)
class ShareRef:
    """Which stored answer a "Share in channel" button shares (ephemeral messages are not sent back)."""

    conversation_id: str
    message_id: str

    def encode(self) -> str:
        return json.dumps({"c": self.conversation_id, "m": self.message_id}, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> ShareRef | None:
        try:
            data = json.loads(value)
            return cls(conversation_id=str(data["c"]), message_id=str(data["m"]))
        except (ValueError, KeyError, TypeError):
            return None


def answer_blocks(
    answer: Answer,
    *,
    question: str | None = None,
    asked_by: str | None = None,
    share: ShareRef | None = None,
) -> list[Block]:
    """The whole answer message: header line, answer, refusal help, notes, sources, buttons.

    `question` is echoed for slash-command and shared answers, where the question is not visible above;
    `asked_by` (a Slack user id) credits the asker on a shared answer; `share` adds "Share in channel".
    """
    blocks: list[Block] = []
    if question:
        who = f"<@{asked_by}> asked" if asked_by else "You asked"
        blocks.append(_context([f"{who}: _{escape(question)}_"], block_id="question"))

    for i, piece in enumerate(_chunks(to_mrkdwn(answer.answer) or " ")):
        blocks.append(_section(piece, block_id=f"answer-{i}"))

    if answer.personal_data:
        # A personal-data warning is the whole message: nothing was answered, so nothing to rate or cite.
        return blocks

    nearest = nearest_topics_block(answer)
    if nearest:
        blocks.append(nearest)

    if answer.notes:
        blocks.append(_context([f":warning: {to_mrkdwn(n)}" for n in answer.notes], block_id="notes"))

    sources = sources_block(answer.sources)
    if sources:
        blocks.append(sources)

    buttons: list[Block] = []
    if answer.message_id:
        buttons.append(_button("👍 Helpful", ACTION_FEEDBACK_UP, answer.message_id))
        buttons.append(_button("👎 Not helpful", ACTION_FEEDBACK_DOWN, answer.message_id))
    if share is not None:
        buttons.append(_button("Share in channel", ACTION_SHARE, share.encode(), style="primary"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "answer_actions", "elements": buttons})
    return blocks


def fallback_text(answer: Answer) -> str:
    """The plain `text` Slack shows in notifications and screen readers alongside the blocks."""
    text = to_mrkdwn(answer.answer)
    return text if len(text) <= _FALLBACK_LIMIT else text[: _FALLBACK_LIMIT - 1] + "…"


def feedback_thanks(rating: str) -> str:
    """What the clicking user sees (privately) once their rating is stored."""
    emoji = "👍" if rating == "up" else "👎"
    return f"Thanks, your {emoji} has been recorded. It helps us improve the guidance."


def help_text(command: str) -> str:
    """Shown when someone mentions the assistant (or runs the command) without a question."""
    return (
        "Ask me a question about UK general practice management, for example "
        f"_Which roles can a PCN claim through the ARRS?_ Mention me with the question, send it to me "
        f"directly, or use `{escape(command)} your question`."
    )


def home_view(topics: Mapping[str, int], command: str) -> dict[str, Any]:
    """The App Home tab: what the library covers (topic → documents) and the ways to ask."""
    if topics:
        lines = [
            f"• *{escape(topic_label(t))}*: {n} document{'s' if n != 1 else ''}"
            for t, n in sorted(topics.items(), key=lambda kv: topic_label(kv[0]))
        ]
        covers = "\n".join(lines)
    else:
        covers = "No guidance has been loaded yet. Ask whoever runs the assistant to ingest the corpus."
    cmd = escape(command)
    how = "\n".join(
        [
            "• *Mention me* in a channel: `@Practice Manager Assistant Which roles can a PCN claim "
            "through the ARRS?` I answer in the thread; mention me again in that thread to follow up "
            "(_and when did that start?_).",
            "• *Message me directly* here in the Messages tab; follow-ups carry on the conversation.",
            f"• *Use* `{cmd} your question` anywhere for a private answer you can share in the channel.",
            "• Every answer cites its sources; use 👍 / 👎 to tell us whether it helped.",
        ]
    )
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Practice Manager Assistant", "emoji": True},
        },
        _section(
            "I answer questions for GP practice managers from a curated library of guidance, "
            "with citations, and I say so when the guidance doesn't cover something."
        ),
        {"type": "divider"},
        _section(f"*What I cover*\n{covers}", block_id="topics"),
        _section(f"*How to ask*\n{how}", block_id="how_to_ask"),
        _context(
            [
                ":lock: Never include patient-identifiable details (names, NHS numbers, dates of birth, "
                "addresses, phone numbers). I won't answer or store a question that contains them."
            ],
            block_id="privacy",
        ),
    ]
    return {"type": "home", "blocks": blocks}
