"""Sentence splitting shared by ingest (sentence vectors) and the composer (sentence choice).

Both sides must split identically: sentence `i` of a chunk at query time is the sentence whose vector
was stored as `<chunk id>:<i>` at ingest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

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
        # A block of short list-like lines: one sentence per line. Hard-wrapped prose (a line that does
        # not end a sentence, followed by one that starts in lower case) is joined instead.
        wrapped = any(
            not a.rstrip().endswith((".", "!", "?", ":", ";")) and b.lstrip()[:1].islower()
            for a, b in pairwise(lines)
        )
        if len(lines) > 1 and not wrapped and all(_BULLET.match(ln) or len(ln.split()) < 25 for ln in lines):
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


_LEANS_BACK = re.compile(r"^(It|Its|This|These|That|Those|They|Their|Them|He|She|His|Her|Such)\b")


def leans_back(sentence: str) -> bool:
    """A sentence whose subject is in the sentence before it ("It was introduced in 2004.")."""
    return bool(_LEANS_BACK.match(sentence))


def with_context(sentences: list[str]) -> list[str]:
    """Sentences as they are embedded: one that leans back carries its predecessor with it."""
    return [f"{sentences[i - 1]} {s}" if i > 0 and leans_back(s) else s for i, s in enumerate(sentences)]
