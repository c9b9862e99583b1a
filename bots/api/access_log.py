"""Access logs without secrets: query-string values of token-, key-, secret-, password- or auth-like
parameters are replaced by `***` before uvicorn's access logger formats its line.

Clients should send credentials in headers, but a `?token=...` pasted into a URL must not end up in log
files. Request bodies are never logged by the API at all (see `errors.RequestContext`).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

SENSITIVE_PARAM = re.compile(r"token|key|secret|passw|pwd|auth|session|signature|sig$|code", re.I)
ACCESS_LOGGER = "uvicorn.access"


def scrub_query(path: str) -> str:
    """`/x?token=abc&q=1` -> `/x?token=***&q=1`; a path without a query string is returned unchanged."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return base + "?***" if query else base
    cleaned = [(k, "***" if SENSITIVE_PARAM.search(k) else v) for k, v in pairs]
    return f"{base}?{urlencode(cleaned, safe='*/')}"


class ScrubQueryStrings(logging.Filter):
    """For uvicorn's access records: args are (client, method, path with query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], scrub_query(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the scrubbing filter on the access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "handlers": {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()},
    }
    config["filters"] = {"scrub_query": {"()": ScrubQueryStrings}}
    config["handlers"]["access"]["filters"] = ["scrub_query"]
    return config
