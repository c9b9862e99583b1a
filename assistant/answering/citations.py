"""The citation check a generated answer must pass before anyone sees it.

A language model can write a fluent sentence its sources never said. So every sentence of its reply is
a claim that has to earn its place: it must cite passages that were given to the model, be close in
meaning to a sentence of what it cites (embedding similarity at least `min_claim_similarity`, calibrated
by `benchmarks/calibrate_claims.py`), and every number, date and name in it must appear in the cited
text. Claims that fail are dropped, not repaired; the citations of the claims kept are renumbered by
first appearance, so `[n]` is the n-th entry of the answer's sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.embeddings import Embedder
from assistant.index_cache import CachedIndex
from assistant.retrieval import Passage
from assistant.text import split_sentences

# "[1]", "[1, 3]", "[2][3]", "[1-2]"; the model is asked for the first form, the rest are tolerated.
_CITATION = re.compile(r"\[\s*(\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*)\s*\]")
_ONLY_CITATIONS = re.compile(r"^(?:\s*\[\s*\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*\s*\]\s*)+[.,;]?\s*$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = re.compile(r"\b(" + "|".join(m.capitalize() for m in _MONTHS) + r")\b")
# Capitalised words past the first word of a sentence: names of people, places, bodies, schemes.
_NAME = re.compile(r"(?<!^)(?<![.!?:]\s)\b([A-Z][A-Za-z'’-]+|[A-Z]{2,}s?)\b")
_WORD_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_WORD_NUMBER = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.I)
# Capitalised words that name nothing (pronouns, days of the week are fine to require; these are not).
_NOT_NAMES = frozenset({"I", "I'm", "I've", "However", "Also", "The", "This", "These", "It", "In", "A"})
# How a model says the passages do not answer (the prompt asks for the sentinel; models paraphrase).
NO_ANSWER = "NOT_IN_PASSAGES"
_SAYS_NO_ANSWER = re.compile(
    r"NOT_IN_PASSAGES|\b(?:passages?|documents?|guidance|sources?|context)\b[^.]{0,60}?"
    r"\b(?:do not|don't|does not|doesn't|did not|cannot|can't|fail to)\b[^.]{0,40}?"
    r"\b(?:answer|say|state|cover|mention|give|contain|include|provide|specify)",
    re.I,
)


@dataclass
class Claim:
    """One sentence of the model's reply, as judged. `cited` are the model's own numbers (1-based)."""

    text: str
    cited: list[int]
    similarity: float = 0.0
    kept: bool = False
    reason: str = ""


@dataclass
class CheckedAnswer:
    """What survives the check: text with renumbered citations and the passages they point at, in order."""

    text: str
    cited: list[Passage]
    claims: list[Claim] = field(default_factory=list)
    says_no_answer: bool = False
    usage: dict[str, int] = field(default_factory=dict)  # the model's token counts, when it reports them

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.claims)

    @property
    def dropped(self) -> int:
        return sum(not c.kept for c in self.claims)

    @property
    def kept_share(self) -> float:
        return self.kept / len(self.claims) if self.claims else 0.0


def citation_numbers(text: str) -> list[int]:
    """Every passage number cited in `text`, ranges expanded, in order of appearance."""
    numbers: list[int] = []
    for match in _CITATION.finditer(text):
        spec = match.group(1)
        for part in re.split(r"\s*(?:,|;|and)\s*", spec):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
            span = (
                range(bounds[0], bounds[-1] + 1)
                if len(bounds) == 2 and bounds[1] - bounds[0] < 10
                else bounds
            )
            numbers.extend(n for n in span if n not in numbers)
    return numbers


def strip_citations(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITATION.sub("", text)).strip()


def claims_of(reply: str) -> list[Claim]:
    """The reply's sentences; a citation the splitter left on its own ("... 2022. [2]") joins the
    sentence before it, where the model meant it."""
    claims: list[Claim] = []
    for sentence in split_sentences(reply):
        if _ONLY_CITATIONS.match(sentence) and claims:
            claims[-1].cited.extend(n for n in citation_numbers(sentence) if n not in claims[-1].cited)
            continue
        claims.append(Claim(strip_citations(sentence), citation_numbers(sentence)))
    return [c for c in claims if c.text]


def _normalise(text: str) -> str:
    text = _ORDINAL.sub(r"\1", text)
    text = _WORD_NUMBER.sub(lambda m: _WORD_NUMBERS[m.group(1).lower()], text)
    return text.replace("’", "'")


def facts_of(sentence: str) -> list[str]:
    """The numbers, months and names a sentence states: each must be found in what it cites."""
    text = _normalise(sentence)
    facts = [n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)]
    facts += [m.lower() for m in _MONTH.findall(text)]
    facts += [n for n in _NAME.findall(text) if n not in _NOT_NAMES and n.lower() not in _MONTHS]
    return list(dict.fromkeys(facts))


def _evidence_text(passages: list[Passage]) -> str:
    parts = []
    for p in passages:
        parts.append(f"{p.metadata.get('title', '')} {p.metadata.get('section', '')} {p.text}")
    return _normalise(" ".join(parts)).replace(",", "")


def missing_facts(sentence: str, passages: list[Passage]) -> list[str]:
    evidence = _evidence_text(passages)
    lowered = evidence.lower()
    missing = []
    for fact in facts_of(sentence):
        if fact[:1].isdigit():
            found = re.search(rf"(?<![\d.]){re.escape(fact)}(?![\d])", evidence) is not None
        else:
            found = re.search(rf"\b{re.escape(fact.lower())}", lowered) is not None
        if not found:
            missing.append(fact)
    return missing


class CitationChecker:
    """Judges a reply against the passages it was written from (numbered from 1, as in the prompt)."""

    def __init__(self, embedder: Embedder, min_similarity: float) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def check(self, reply: str, passages: list[Passage], index: CachedIndex | None = None) -> CheckedAnswer:
        claims = claims_of(reply)
        says_no = bool(_SAYS_NO_ANSWER.search(reply))
        candidates = [c for c in claims if c.cited and all(1 <= n <= len(passages) for n in c.cited)]
        for c in claims:
            if not c.cited:
                c.reason = "no citation"
            elif c not in candidates:
                c.reason = f"cites a passage that was not given ({', '.join(map(str, c.cited))})"
        if candidates:
            vectors = self.embedder.encode([c.text for c in candidates])
            for claim, vector in zip(candidates, vectors, strict=True):
                self._judge(claim, vector, [passages[n - 1] for n in claim.cited], index)
        order: list[int] = []
        pieces: list[str] = []
        for claim in claims:
            if not claim.kept:
                continue
            for n in claim.cited:
                if n not in order:
                    order.append(n)
            marks = "".join(f"[{order.index(n) + 1}]" for n in claim.cited)
            body = claim.text.rstrip()
            end = body[-1] if body and body[-1] in ".!?" else "."
            pieces.append(f"{body.rstrip('.!?')} {marks}{end}")
        return CheckedAnswer(" ".join(pieces), [passages[n - 1] for n in order], claims, says_no)

    def _judge(
        self, claim: Claim, vector: np.ndarray, cited: list[Passage], index: CachedIndex | None
    ) -> None:
        claim.similarity = max(float(np.max(self._sentence_vectors(p, index) @ vector)) for p in cited)
        if claim.similarity < self.min_similarity:
            claim.reason = f"not close enough to what it cites ({claim.similarity:.2f})"
            return
        missing = missing_facts(claim.text, cited)
        if missing:
            claim.reason = f"states what its sources do not ({', '.join(missing)})"
            return
        claim.kept = True

    def _sentence_vectors(self, passage: Passage, index: CachedIndex | None) -> np.ndarray:
        """Stored sentence vectors when the passage is in the index (nothing re-embedded), else embedded."""
        if index is not None and passage.id in index.position:
            start, end = index.spans[index.position[passage.id]]
            if end > start:
                return index.sentence_vectors[start:end]
        sentences = passage.sentences or split_sentences(passage.text) or [passage.text]
        return np.asarray(self.embedder.encode(sentences))
