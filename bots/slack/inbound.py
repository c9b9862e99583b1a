"""Turning what Slack sends into what the answer service takes: plain question text and a conversation id."""

from __future__ import annotations

import html
import re

# Slack encodes mentions, channels and links as <...> control sequences and escapes &, <, > as entities.
_MENTION_RE = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_LINK_RE = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")
_CHANNEL_RE = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL_RE = re.compile(r"<!(\w+)(?:\^[^|>]*)?(?:\|([^>]*))?>")


def question_text(raw: str, bot_user_id: str | None = None) -> str:
    """The question a user typed, with the bot's own mention removed and Slack's markup undone.

    The service (and its personal-data check) should see what the person wrote, not Slack's wire format:
    a link label instead of `<url|label>`, `&` instead of `&amp;`.
    """

    def mention(m: re.Match[str]) -> str:
        return "" if bot_user_id is None or m.group(1) == bot_user_id else "@someone"

    text = _MENTION_RE.sub(mention, raw)
    text = _LINK_RE.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    text = _CHANNEL_RE.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "#channel", text)
    text = _SPECIAL_RE.sub(lambda m: m.group(2) or f"@{m.group(1)}", text)
    text = html.unescape(text)
    return " ".join(text.split())


def conversation_key(team: str | None, channel: str, thread: str) -> str:
    """A stable key for one Slack thread (or DM), so follow-ups see earlier turns.

    It is not the conversation id: anyone in the channel can read team, channel and thread, so the service
    maps (this key, the asker) to a random conversation id instead. Including the team keeps two
    workspaces' identical channel ids apart.
    """
    return f"slack:{team or '-'}:{channel}:{thread}"
