"""The extractive composer: a short answer made of verbatim sentences from the passages, cited.

No prose is generated, so nothing can be said that a passage does not say. The composer picks the
sentences most similar to the question (their vectors come from ingest), prefers sentences that add
question terms not yet covered (so both halves of a two-part question are answered, from different
passages if need be), and numbers citations by first appearance so `[n]` always points at the passage the
sentence came from. When the best support is below a calibrated threshold it refuses instead, and
likewise when no sentence holds the kind of answer asked for, or names the thing asked for (a salary is
not answered by a fee, nor notice by a duration of something else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.answer_type import (
    asked_for,
    asked_treatment,
    asked_whether,
    expected_type,
    has_type,
    required_years,
    unknown_names,
)
from assistant.config import AnswerSettings
from assistant.index_cache import terms
from assistant.retrieval import Passage, RetrievalResult
from assistant.text import leans_back, word_count

MAX_SENTENCES = 4
PASSAGES_CONSIDERED = 4
SENTENCE_MARGIN = 0.12  # extra sentences must score within this of the best one
NEW_TERMS_WEIGHT = 0.30
OVERLAP_WEIGHT = 0.15
TYPE_BONUS = 0.10
FOCUS_BONUS = 0.10


@dataclass
class Composition:
    text: str
    grounded: bool
    cited: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    nearest_topics: list[str] = field(default_factory=list)
    support: float = 0.0
    reason: str = ""
    typed_support: float | None = None


@dataclass
class _Candidate:
    base: float
    pn: int
    sn: int
    terms: set[str]
    typed: bool
    dated: bool
    focused: bool

    def gain(self, covered: set[str], query_terms: set[str]) -> float:
        """Later sentences earn credit for question terms the answer does not cover yet."""
        new = len((self.terms & query_terms) - covered) / len(query_terms) if query_terms else 0.0
        return self.base + NEW_TERMS_WEIGHT * new


def support_of(result: RetrievalResult) -> float:
    """How well the corpus supports an answer: the best sentence similarity among the passages used.

    Off-topic questions sit far below answerable ones here (lowest answerable on the evaluation set:
    0.39); questions close to the corpus but not answered by it do not, which is what the answer-type,
    year and unknown-name checks in `_select` are for.
    """
    return max((p.best_sentence_score for p in result.passages[:PASSAGES_CONSIDERED]), default=0.0)


@dataclass(frozen=True)
class _Focus:
    """The thing asked for: its head word must be in the answering sentence (or its heading), in its own
    form, since stems conflate ("allowance", "allowed"); its qualifiers may be anywhere in the passage."""

    head: str
    qualifiers: frozenset[str]

    @classmethod
    def of(cls, asked: str, kind: str | None) -> _Focus | None:
        """Held to it: questions expecting a sum, count, duration, date or share, "which X" questions,
        passive how-questions and yes/no questions. Plain "what X" questions and questions expecting a
        name are not: the corpus often names their thing in other words ("regulator" for the GMC), and
        requiring the word refused answerable paraphrases (measured; README, "How it was tuned")."""
        treatment = asked_treatment(asked)
        if treatment:
            return cls(treatment, frozenset())
        whether = asked_whether(asked)
        if whether:  # its qualifiers are often paraphrased ("formal" for "registered"): the head only
            return cls(_singular(whether[-1]), frozenset())
        if kind == "name":  # "which regulator": the GMC, not the word "regulator"
            return None
        if kind is None and not re.match(r"\s*(and\s+)?which\b", asked, re.I):
            return None
        named = asked_for(asked)
        if not named:
            return None
        return cls(_singular(named[-1]), frozenset(terms(" ".join(named[:-1]))))

    def named_by(self, sentence: str, heading: set[str], passage: frozenset[str]) -> bool:
        words = {_singular(w) for w in _WORD.findall(sentence.lower())} | heading
        if self.head not in words and not (self.head.endswith("ed") and set(terms(self.head)) <= words):
            return False
        # Most qualifiers, not all: "GP surgery buildings" are the review's "GP premises buildings".
        return len(self.qualifiers - passage) <= len(self.qualifiers) // 2


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _pool(
    passages: list[Passage],
    offset: int,
    kind: str | None,
    years: list[str],
    focus: _Focus | None,
    query_terms: set[str],
    given: str,
) -> list[_Candidate]:
    """Every sentence of `passages` scored as a candidate for the answer (`offset`: rank of the first)."""
    pool: list[_Candidate] = []
    for i, passage in enumerate(passages):
        pn = offset + i
        head_text = f"{passage.metadata.get('title', '')} {passage.metadata.get('section', '')}".lower()
        heading = {_singular(w) for w in _WORD.findall(head_text)}
        rank_prior = 0.03 * max(0, PASSAGES_CONSIDERED - pn) / PASSAGES_CONSIDERED
        for sn, (sentence, sim) in enumerate(zip(passage.sentences, passage.sentence_scores, strict=True)):
            sentence_terms = set(terms(sentence))
            overlap = len(query_terms & sentence_terms) / len(query_terms) if query_terms else 0.0
            typed = kind is not None and has_type(sentence, kind, given)
            dated = bool(years) and all(y in sentence for y in years)
            focused = focus is not None and focus.named_by(sentence, heading, passage.terms)
            base = (
                sim
                + OVERLAP_WEIGHT * overlap
                + rank_prior
                + TYPE_BONUS * typed
                + TYPE_BONUS * dated
                + FOCUS_BONUS * focused
            )
            pool.append(_Candidate(base, pn, sn, sentence_terms, typed, dated, focused))
    return pool


def _nearest_topics(passages: list[Passage], limit: int = 3) -> list[str]:
    titles: list[str] = []
    for p in passages:
        title = str(p.metadata.get("title") or p.metadata.get("source"))
        if title not in titles:
            titles.append(title)
    return titles[:limit]


def _shorten(question: str, limit: int = 120) -> str:
    question = " ".join(question.split())
    return question if len(question) <= limit else question[: limit - 1].rstrip() + "…"


class ExtractiveComposer:
    def __init__(
        self,
        settings: AnswerSettings,
        titles: dict[str, str] | None = None,
        known_words: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.titles = titles or {}
        self.known_words = known_words

    def refusal(self, question: str, result: RetrievalResult, support: float, reason: str) -> Composition:
        topics = _nearest_topics(result.passages)
        text = f'The guidance I hold doesn\'t cover "{_shorten(question)}".'
        if topics:
            text += f" The nearest topics it does cover are: {'; '.join(topics)}."
        return Composition(text, False, nearest_topics=topics, support=support, reason=reason)

    def compose(
        self, question: str, result: RetrievalResult, today: date | None = None, *, asked: str | None = None
    ) -> Composition:
        """`question` is what was retrieved for (a follow-up joined to its antecedent); `asked` is the
        user's own latest wording, which decides the kind of answer expected."""
        asked = asked or question
        picked = self._select(asked, result, MAX_SENTENCES, self.settings.max_words)
        if isinstance(picked, Composition):
            return picked
        return self._render([picked], support_of(result), today)

    def compose_parts(
        self,
        asked: str,
        whole: RetrievalResult,
        parts: list[tuple[str, RetrievalResult]],
        today: date | None = None,
    ) -> Composition:
        """A two-part question: each part answered from its own retrieval, one set of citations."""
        selections: list[list[tuple[Passage, list[int]]]] = []
        missing: list[str] = []
        budget = self.settings.max_words // len(parts)
        for part, result in parts:
            picked = self._select(part, result, 2, budget)
            if isinstance(picked, Composition):
                missing.append(part)
            else:
                selections.append(picked)
        if not selections:
            return self.refusal(asked, whole, support_of(whole), "no part is covered")
        composition = self._render(selections, support_of(whole), today)
        for part in missing:
            composition.notes.insert(0, f'The guidance I hold doesn\'t cover this part: "{_shorten(part)}".')
        return composition

    def _select(
        self, asked: str, result: RetrievalResult, max_sentences: int, max_words: int
    ) -> list[tuple[Passage, list[int]]] | Composition:
        """The sentences that answer `asked`, per passage; or a refusal."""
        support = support_of(result)
        vocabulary = frozenset(
            w for p in result.passages[:PASSAGES_CONSIDERED] for w in _WORD.findall(_passage_text(p).lower())
        )
        if vocabulary and (missing := unknown_names(asked, vocabulary, self.known_words)):
            return self.refusal(asked, result, support, f"unknown names: {', '.join(missing)}")
        if support < self.settings.min_support:
            return self.refusal(asked, result, support, "weak support")

        kind = expected_type(asked)
        years = required_years(asked)
        focus = _Focus.of(asked, kind)
        query_terms = set(result.query_terms)
        passages = result.passages[:PASSAGES_CONSIDERED]
        # Names the question already gives, or its acronyms' expansions, are no answer to "who".
        given = f"{asked} {result.expanded}"
        pool = _pool(passages, 0, kind, years, focus, query_terms, given)
        if focus and not any(c.focused for c in pool):
            # The thing asked for may be named in a lower-ranked passage; only its naming sentences join.
            passages = result.passages
            rest = passages[PASSAGES_CONSIDERED:]
            lower = _pool(rest, PASSAGES_CONSIDERED, kind, years, focus, query_terms, given)
            pool += [c for c in lower if c.focused]
        if not pool:
            return self.refusal(asked, result, support, "no sentences")
        if focus and not any(c.focused for c in pool):
            return self.refusal(asked, result, support, f"nothing names the {focus.head} asked for")
        answering = [c for c in pool if c.focused] if focus else pool
        typed_best = None
        # Names are in nearly every sentence and answers may be roles ("the integrated care board"), so a
        # name steers the choice of sentence but its absence refuses nothing.
        if kind is not None and kind != "name":
            typed_best = max((c.base for c in answering if c.typed), default=0.0)
        if years:
            dated_best = max((c.base for c in answering if c.dated), default=0.0)
            typed_best = dated_best if typed_best is None else min(typed_best, dated_best)
        if typed_best is not None and typed_best < self.settings.min_typed_support:
            refused = self.refusal(asked, result, support, f"no {kind or 'year'} in the support")
            refused.typed_support = typed_best
            return refused

        chosen: list[_Candidate] = []
        covered: set[str] = set()
        words = 0
        first = max(
            pool,
            key=lambda c: (
                c.focused or not focus,
                c.typed or kind in (None, "name"),
                c.dated or not years,
                c.base,
            ),
        )
        best_base = first.base
        while pool and len(chosen) < max_sentences:
            item = first if not chosen else max(pool, key=lambda c: c.gain(covered, query_terms))
            pool.remove(item)
            sentence = passages[item.pn].sentences[item.sn]
            if chosen and item.gain(covered, query_terms) < best_base - SENTENCE_MARGIN:
                break
            if chosen and words + word_count(sentence) > max_words:
                continue
            if any(_near_duplicate(sentence, passages[c.pn].sentences[c.sn]) for c in chosen):
                continue
            chosen.append(item)
            covered |= item.terms & query_terms
            words += word_count(sentence)
        selection: list[tuple[Passage, list[int]]] = []
        for c in chosen:
            # A sentence that leans on its predecessor ("It began in 1991.") is quoted with it.
            wanted = [c.sn - 1, c.sn] if c.sn > 0 and leans_back(passages[c.pn].sentences[c.sn]) else [c.sn]
            for passage, numbers in selection:
                if passage is passages[c.pn]:
                    numbers.extend(n for n in wanted if n not in numbers)
                    break
            else:
                selection.append((passages[c.pn], wanted))
        return selection

    def _render(
        self, selections: list[list[tuple[Passage, list[int]]]], support: float, today: date | None
    ) -> Composition:
        """Number sources by first appearance; each passage's sentences together, in text order."""
        merged: dict[str, tuple[Passage, set[int]]] = {}
        for selection in selections:
            for passage, numbers in selection:
                entry = merged.setdefault(passage.id, (passage, set()))
                entry[1].update(numbers)
        parts: list[str] = []
        cited: list[Passage] = []
        seen_sentences: list[str] = []
        for passage, wanted in merged.values():
            sentences = [passage.sentences[i] for i in sorted(wanted)]
            sentences = [s for s in sentences if not any(_near_duplicate(s, t) for t in seen_sentences)]
            if not sentences:
                continue
            seen_sentences.extend(sentences)
            cited.append(passage)
            parts.append(" ".join(sentences) + f" [{len(cited)}]")
        return Composition(
            text=" ".join(parts),
            grounded=True,
            cited=cited,
            notes=self.currency_notes(cited, today or date.today()),
            support=support,
        )

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
                if note not in notes:
                    notes.append(note)
                continue
            checked = _latest_date(meta.get("reviewed"), meta.get("published"))
            if checked and (today - checked).days > self.settings.max_source_age_days:
                note = (
                    f'"{title}" was last checked on {checked.isoformat()}; '
                    "the position may have changed since."
                )
                if note not in notes:
                    notes.append(note)
        return notes


_WORD = re.compile(r"[a-z0-9]+(?:[./'][a-z0-9]+)*")


def _passage_text(passage: Passage) -> str:
    meta = passage.metadata
    return f"{meta.get('title', '')} {meta.get('section', '')} {passage.text}"


def _latest_date(*values: Any) -> date | None:
    dates = []
    for value in values:
        try:
            dates.append(date.fromisoformat(str(value)[:10]))
        except ValueError:
            continue
    return max(dates, default=None)


def _near_duplicate(a: str, b: str) -> bool:
    ta, tb = set(terms(a)), set(terms(b))
    if not ta or not tb:
        return a == b
    return len(ta & tb) / len(ta | tb) > 0.7
