"""Sentence splitting shared by ingest (sentence vectors) and the composer (sentence choice).

Both sides must split identically: sentence `i` of a chunk at query time is the sentence whose vector
was stored as `<chunk id>:<i>` at ingest.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

_WS = re.compile(r"\s+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage; list items and lines that end without punctuation count as sentences."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)", text):
        block = block.strip()
        if not block:
            continue
        lines = [ln for ln in block.splitlines() if ln.strip()]
        # A block of short list-like lines: one sentence per line.
        if len(lines) > 1 and all(_BULLET.match(ln) or len(ln.split()) < 25 for ln in lines):
            parts = lines
        else:
            parts = _segmenter().segment(_WS.sub(" ", block))
        for part in parts:
            sentence = _WS.sub(" ", _BULLET.sub("", part)).strip()
            if sentence:
                out.append(sentence)
    return out


def word_count(text: str) -> int:
    return len(text.split())
