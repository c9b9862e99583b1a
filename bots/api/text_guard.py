"""Refuse text no person typed: lone surrogates and control characters, in any string of a request.

JSON allows `"\\ud83d"` (half of a UTF-16 pair); Python decodes it to a string that cannot be encoded
again, so it would fail later, in storage or in the response, as a 500. Control characters (other than
tab and newlines) have no place in a question either, and can corrupt logs and terminals. Both are a
422 that names where the bad character is, never what surrounds it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

UNSAFE_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0/C1 controls except \\t \\n \\r, DEL, and UTF-16 surrogate halves."""


def find_unsafe(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[tuple[str | int, ...], str] | None:
    """(location, description) of the first unsafe character in a decoded JSON value, or None."""
    if isinstance(value, str):
        m = UNSAFE_CHARACTER.search(value)
        if m is None:
            return None
        char = m.group()
        kind = "a lone UTF-16 surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        return loc, f"The text contains {kind} (U+{ord(char):04X}) at position {m.start()}."
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_unsafe(key, (*loc, "<key>")) or find_unsafe(item, (*loc, str(key)))
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_unsafe(item, (*loc, i))
            if found:
                return found
    return None


async def reject_unsafe_text(request: Request) -> None:
    """Route dependency: runs after FastAPI has decoded the JSON body, before the model is validated."""
    found = find_unsafe(dict(request.path_params), ("path",)) or find_unsafe(
        dict(request.query_params), ("query",)
    )
    if found is None and "json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()
        except ValueError:
            body = None  # FastAPI has already reported it as a 422 json_invalid
        found = find_unsafe(body, ("body",))
    if found is not None:
        loc, msg = found
        raise RequestValidationError([{"type": "string_unsafe_character", "loc": loc, "msg": msg}])
