"""Who a conversation belongs to, as one opaque string per kind of caller.

Every front door turns its caller into an owner string before asking the service anything, and the
service only ever compares whole strings. The kind prefix keeps the doors apart: an HTTP caller can only
ever be `key:` or `session:`, so no HTTP request can reach a Slack (`slack:`) or CLI (`cli:`)
conversation, whatever id it sends. Secrets never become owners: an API key is stored as its SHA-256.
"""

from __future__ import annotations

import hashlib

LOCAL_OWNER = "cli:local"
"""The one person at the terminal: every `pm-assistant ask` shares it, so batch lines can chain."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def api_key_owner(api_key: str) -> str:
    """The owner for requests made with one API key (hashed: the key itself is never stored)."""
    return f"key:{_digest(api_key)}"


def session_owner(session_id: str) -> str:
    """The owner for a browser (or any cookie-keeping client) holding one signed session cookie."""
    return f"session:{session_id}"


def slack_owner(team: str | None, user: str | None) -> str:
    """The owner for one Slack user in one workspace (user ids are only unique within a team)."""
    return f"slack:{team or '-'}:{user or '-'}"
