"""The one tokenizer, stemmer and sentence splitter that ingest, retrieval and answering share.

Both sides must split identically: sentence `i` of a chunk at query time is the sentence whose vector
was stored as `<chunk id>:<i>` at ingest; and BM25, term overlap and the answer features must see the
same terms, or a feature fitted on one tokenisation is read on another.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

import bm25s
import pysbd
import Stemmer

_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"[a-z0-9]+(?:[./'][a-z0-9]+)*")
_STOP = frozenset(bm25s.stopwords.STOPWORDS_EN) | {"what", "which", "who", "when", "how", "does", "did"}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """Lower-cased words; numbers such as 2024/25 and 2.916 stay whole."""
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms: what BM25, term overlap and coverage count."""
    return _stemmer().stemWords([w for w in tokens(text) if w not in _STOP])


def singular(word: str) -> str:
    """A plural noun's singular, by English spelling rules alone; unlike a stem it keeps the word's own
    form, so "allowance" and "allowed" stay apart."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# An enumerator inside running text ("(a)", "(ii)", "(3)"), and the punctuation that ends a sentence,
# perhaps before a closing quote or bracket.
_ENUMERATOR = re.compile(r"^\(?(?:[a-z]|[ivx]{1,4}|\d{1,2})\)\s", re.I)
_ENDS = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


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
            parts = _rejoin_enumerations(_segmenter().segment(_WS.sub(" ", block)))
        for part in parts:
            sentence = _WS.sub(" ", _BULLET.sub("", part)).strip()
            if sentence:
                out.append(sentence)
    return out


def _rejoin_enumerations(parts: list[str]) -> list[str]:
    """pysbd breaks running text before each enumerator ("must (a) keep a record and (b) act"), leaving
    pieces that end without a full stop. In prose a sentence ends in punctuation, so a piece that opens
    with an enumerator continues the one before it unless that one has ended."""
    out: list[str] = []
    for part in parts:
        if out and _ENUMERATOR.match(part) and not _ENDS.search(out[-1]):
            out[-1] += part if out[-1].endswith(" ") else f" {part}"
        else:
            out.append(part)
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
