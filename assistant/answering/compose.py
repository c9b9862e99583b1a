"""The extractive composer: the answer is made of verbatim sentences from the passages, cited.

No prose is generated, so nothing can be said that a passage does not say. Which sentences is the
sentence scorer's choice (`policy.py` scores them); this module turns a choice into text: a passage's
sentences together in text order, a sentence that leans on its predecessor ("It began in 1991.")
quoted with it, citations `[n]` numbered by first appearance so each points at the passage its
sentences came from. It also writes the two kinds of answer that are not grounded: a partial answer
(the documents cover the topic but not the thing asked) and a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.answering.features import Candidate
from assistant.config import AnswerSettings
from assistant.retrieval import Passage, RetrievalResult
from assistant.text import leans_back, terms, word_count


@dataclass
class Composition:
    text: str
    grounded: bool
    cited: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    nearest_topics: list[str] = field(default_factory=list)
    probability: float = 0.0
    reason: str = ""
    composer: str = "extractive"


Selection = list[tuple[Passage, list[int]]]


def shorten(question: str, limit: int = 120) -> str:
    question = " ".join(question.split())
    return question if len(question) <= limit else question[: limit - 1].rstrip() + "…"


def nearest_topics(passages: list[Passage], limit: int = 3) -> list[str]:
    titles: list[str] = []
    for p in passages:
        title = str(p.metadata.get("title") or p.metadata.get("source"))
        if title not in titles:
            titles.append(title)
    return titles[:limit]


def near_duplicate(a: str, b: str) -> bool:
    """Whether one sentence says little the other does not: most of the shorter one's words are in the
    longer. Notes that overlap repeat a fact in a short and a long form ("X was abolished." and "X was
    abolished and its functions moved to Y."); an answer quoting both says the same thing twice."""
    ta, tb = set(terms(a)), set(terms(b))
    if not ta or not tb:
        return a == b
    return len(ta & tb) / min(len(ta), len(tb)) > 0.8


class ExtractiveComposer:
    def __init__(self, settings: AnswerSettings, titles: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.titles = titles or {}

    def select(
        self, scored: list[Candidate], max_sentences: int, max_words: int, *, by_topic: bool = False
    ) -> Selection:
        """The best sentence, then others the scorer also believes hold the answer, within the limits.

        `by_topic` ranks by similarity to the question instead, for a partial answer: what is shown there
        is what the documents say about the topic, and a sentence that merely looks like an answer (a sum
        from another scheme) is the last thing to offer when the thing asked for is not there: sentences
        naming more of what is asked about come first, then the more similar."""
        if by_topic:
            ranked = sorted(scored, key=lambda c: (-c.feature("focus_stem"), -c.feature("sim")))
        else:
            ranked = sorted(scored, key=lambda c: -c.p)
        chosen: list[Candidate] = []
        words = 0
        for c in ranked:
            if len(chosen) >= max_sentences:
                break
            if chosen and not by_topic and c.p < self.settings.extra_sentence_min_p:
                break
            if chosen and words + word_count(c.text) > max_words:
                continue
            if any(near_duplicate(c.text, d.text) for d in chosen):
                continue
            chosen.append(c)
            words += word_count(c.text)
        selection: Selection = []
        for c in chosen:
            wanted = [c.sn - 1, c.sn] if c.sn > 0 and leans_back(c.text) else [c.sn]
            for passage, numbers in selection:
                if passage is c.passage:
                    numbers.extend(n for n in wanted if n not in numbers)
                    break
            else:
                selection.append((c.passage, wanted))
        return selection

    def render(self, selections: list[Selection], today: date) -> Composition:
        """Number sources by first appearance; each passage's sentences together, in text order."""
        text, cited = self._cite(selections)
        return Composition(text, True, cited, self.currency_notes(cited, today))

    def partial(self, question: str, selection: Selection, today: date, probability: float) -> Composition:
        """The documents speak of the topic but not of the thing asked: say so, then what they do say."""
        text, cited = self._cite([selection])
        return Composition(
            f"The guidance doesn't give that. It does say: {text}",
            False,
            cited,
            self.currency_notes(cited, today),
            nearest_topics(cited),
            probability,
            f'not answered: "{shorten(question)}"',
        )

    def refusal(self, question: str, result: RetrievalResult, probability: float, reason: str) -> Composition:
        topics = nearest_topics(result.passages)
        text = f'The guidance I hold doesn\'t cover "{shorten(question)}".'
        if topics:
            text += f" The nearest topics it does cover are: {'; '.join(topics)}."
        return Composition(text, False, nearest_topics=topics, probability=probability, reason=reason)

    def _cite(self, selections: list[Selection]) -> tuple[str, list[Passage]]:
        merged: dict[str, tuple[Passage, set[int]]] = {}
        for selection in selections:
            for passage, numbers in selection:
                merged.setdefault(passage.id, (passage, set()))[1].update(numbers)
        parts: list[str] = []
        cited: list[Passage] = []
        seen: list[str] = []
        for passage, wanted in merged.values():
            sentences = [passage.sentences[i] for i in sorted(wanted)]
            sentences = [s for s in sentences if not any(near_duplicate(s, t) for t in seen)]
            if not sentences:
                continue
            seen.extend(sentences)
            cited.append(passage)
            parts.append(" ".join(sentences) + f" [{len(cited)}]")
        return " ".join(parts), cited

    def currency_notes(self, cited: list[Passage], today: date) -> list[str]:
        """Warn about superseded guidance and about sources not reviewed for a long time."""
        notes: list[str] = []
        for passage in cited:
            meta: dict[str, Any] = passage.metadata
            title = str(meta.get("title") or meta.get("source"))
            successor = meta.get("superseded_by")
            if successor:
                custom = meta.get("superseded_note")
                current = self.titles.get(str(successor), str(successor))
                text = str(custom) if custom else f'"{title}" describes arrangements that have since changed.'
                note = f'{text} For the current position see "{current}" ({successor}).'
            else:
                checked = _latest_date(meta.get("reviewed"), meta.get("published"))
                if not checked or (today - checked).days <= self.settings.max_source_age_days:
                    continue
                note = (
                    f'"{title}" was last checked on {checked.isoformat()}; '
                    "the position may have changed since."
                )
            if note not in notes:
                notes.append(note)
        return notes


def _latest_date(*values: Any) -> date | None:
    dates = []
    for value in values:
        try:
            dates.append(date.fromisoformat(str(value)[:10]))
        except ValueError:
            continue
    return max(dates, default=None)
