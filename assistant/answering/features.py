"""Generic features of candidate sentences and of a question's best candidates.

Each candidate is one sentence of the top passages. Its features say how close it is to the question
(dense similarity of the sentence and of its passage, BM25 and IDF-weighted term overlap), whether it
holds what the question asks for (the kind of answer; the words of the wh-phrase, in their own form or a
related one; the years the question gives; whether its answer-shaped span is new, not one the question
already states; how much of the last wh-clause, and of its rarest words, it covers, alone and with the
sentences either side of it, since an answer often names its subject in the sentence before), and where
it sits (passage rank, position, heading, and its rank by similarity among the question's candidates).
Two measure the part of the question the document's own subject does not say: the sentence's similarity
to the question without the top passage's title words (`Passage.residual_scores`), and its coverage of
the asked words that are not in a third or more of its passage's sentences (`_specific`).
A name the question gives and a passage lacks weighs by its rarity in the library (lacking "GP" says
little, lacking "Northern Ireland" much). For answerability, besides the best candidates' features, how
far the best passage and the best sentence stand above the next, and the scorer's best beliefs as
log-odds as well as probabilities.
None names a topic or a question: the fitted models in `models/` weigh them, and `train.py` refits them.

The feature lists are part of the model files: a model is refused on load if its names differ.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from assistant.answering.question import KINDS, Reading, stop_words
from assistant.answering.shapes import (
    any_number,
    asked_rate,
    counts,
    has_shape,
    new_shape,
    numbers_in,
    rate_missing,
    span_contexts,
)
from assistant.index_cache import CachedIndex
from assistant.retrieval import Passage, RetrievalResult
from assistant.text import leans_back, singular, terms, tokens

SENTENCE_FEATURES: tuple[str, ...] = (
    "sim",
    "sim_margin",
    "passage_sim",
    "passage_score",
    "passage_rank_inv",
    "passage_bm25",
    "overlap",
    "idf_overlap",
    "head_overlap",
    "has_focus",
    "focus_exact",
    "focus_stem",
    "focus_passage",
    "kind_expected",
    "kind_present",
    "kind_absent",
    "year_present",
    "year_absent",
    "names_missing",
    "first_in_passage",
    "length",
    "leans_back",
    "has_number",
    "kind_new",
    "clause_cover",
    "clause_rarest",
    "numbers_missing",
    "idf_overlap_margin",
    "clause_cover_margin",
    "focus_stem_margin",
    "sim_rank_inv",
    "window_cover",
    "specific_cover",
    "specific_cover_margin",
    "residual_sim",
    "residual_sim_margin",
    "counts_focus",
    "rate_missing",
    "span_cover",
)

ANSWERABLE_FEATURES: tuple[str, ...] = (
    "best_p",
    "second_p",
    "best_sim",
    "best_passage_score",
    "best_idf_overlap",
    "idf_coverage",
    "has_focus",
    "focus_exact_best",
    "focus_exact_any",
    "focus_stem_any",
    "focus_passage_any",
    "kind_expected",
    "kind_in_best",
    "kind_in_top",
    "years_expected",
    "years_present",
    "names_missing",
    "yes_no",
    "kind_new_best",
    "kind_new_top",
    "clause_cover_best",
    "clause_cover_top",
    "clause_rarest_best",
    "clause_rarest_passage",
    "clause_missing_max",
    "clause_missing_share",
    "clause_unknown_share",
    "numbers_expected",
    "numbers_missing",
    *(f"kind_{k}" for k in KINDS),
    *(f"kind_new_best_{k}" for k in KINDS),
    "best_passage_missing_max",
    "best_passage_missing_share",
    "typed_best_p",
    "window_cover_best",
    "window_cover_top",
    "specific_cover_best",
    "specific_cover_top",
    "passage_gap",
    "sim_gap",
    "best_logit",
    "typed_best_logit",
    "counts_focus_best",
    "counts_focus_top",
    "rate_missing_best",
    "rate_missing_top",
    "span_cover_best",
    "span_cover_top",
    "source_share",
)


@dataclass
class Candidate:
    """One sentence of a retrieved passage, with its features and (once scored) its probability of
    holding the answer."""

    pn: int
    sn: int
    passage: Passage
    x: np.ndarray
    p: float = 0.0

    @property
    def text(self) -> str:
        return self.passage.sentences[self.sn]

    def feature(self, name: str) -> float:
        return float(self.x[SENTENCE_FEATURES.index(name)])


def _weighted(part: set[str], whole: list[str], idf: CachedIndex) -> float:
    total = sum(idf.idf_of(t) for t in whole)
    return sum(idf.idf_of(t) for t in whole if t in part) / total if total else 0.0


def _singulars(text: str) -> set[str]:
    return {singular(w) for w in tokens(text)}


def clause_terms(reading: Reading, result: RetrievalResult | None = None) -> list[str]:
    """The stemmed content words of what is asked (the last wh-clause, not the context typed before it),
    each once: the words a passage that answers must speak of. With `result`, a word the library never
    uses is read as the retrieved passages' word it is one or two keystrokes from ("valud" as "valued",
    "sytems" as "systems"), if there is one."""
    words = [w for w in tokens(reading.clause or reading.question) if w not in stop_words()]
    asked = list(dict.fromkeys(terms(" ".join(words))))
    return _resolve_typos(asked, result) if result is not None else asked


def _resolve_typos(asked: list[str], result: RetrievalResult) -> list[str]:
    """Managers type fast, and a misspelt word counts as missing from every passage, which reads as a
    question the library does not answer. Only words no chunk holds, or that are rare (in three chunks
    or fewer) beside a word five times as common, are read again ("practise" in one note, "practice" in
    most), only against the words of the passages retrieved for this question (not the whole
    vocabulary, where a near word is often a different one), and only within one edit for a short word
    and two for a long one."""
    index = result.index
    if index is None:
        return asked
    nearby = sorted(set().union(*(p.terms for p in result.passages)))
    rare = math.log((len(index.ids) - 2.5) / 3.5 + 1.0)  # the idf of a term in three chunks
    out = []
    for term in asked:
        if len(term) < 4 or (term in index.idf and index.idf_of(term) < rare):
            out.append(term)
            continue
        cutoff = 1 if len(term) <= 6 else 2
        near = [
            (w, d)
            for w, d, _ in process.extract(term, nearby, scorer=OSA.distance, score_cutoff=cutoff, limit=5)
            if w != term and (term not in index.idf or index.idf_of(w) < index.idf_of(term) - _FAR_COMMONER)
        ]
        out.append(min(near, key=lambda wd: (wd[1], index.idf_of(wd[0])))[0] if near else term)
    return list(dict.fromkeys(out))


_FAR_COMMONER = math.log(5.0)


def _rarest(asked: list[str], index: CachedIndex, n: int = 2) -> set[str]:
    """The `n` rarest of the asked-for terms that the index knows (an unknown word is likelier a typo or a
    word from outside the documents, counted apart): the specific words an answer must speak of."""
    known = sorted((t for t in asked if t in index.idf), key=lambda t: (-index.idf_of(t), t))
    return set(known[:n])


def _numbers_missing(numbers: list[str], text: str) -> float:
    """The share of the question's figures that `text` does not hold (as whole numbers)."""
    if not numbers:
        return 0.0
    missing = sum(1 for n in numbers if not re.search(rf"(?<![\d.,]){re.escape(n)}(?![\d])", text))
    return missing / len(numbers)


def _names_missing(names: tuple[str, ...], lower_text: str, index: CachedIndex) -> float:
    """The share of the question's names the passage lacks, each weighed by its rarity in the library:
    lacking "GP", which nearly every passage has, says little; lacking "Northern Ireland" says much."""
    if not names:
        return 0.0
    ceiling = math.log(len(index.ids) + 1.5)
    weights = [max((index.idf.get(t, ceiling) for t in terms(n)), default=ceiling) for n in names]
    total = sum(weights)
    missing = sum(w for n, w in zip(names, weights, strict=True) if n.lower() not in lower_text)
    return missing / total if total else 0.0


def candidates(reading: Reading, result: RetrievalResult, passages: int, given: str = "") -> list[Candidate]:
    """Every sentence of the first `passages` passages, with its features. `given` is text whose names
    are no answer to "who" (the question and its glossary expansion)."""
    index = result.index
    if index is None:
        raise ValueError("retrieval result carries no index")
    query = list(dict.fromkeys(result.query_terms))
    query_set = set(query)
    focus = [singular(w) for w in reading.focus]
    focus_stems = set(terms(" ".join(reading.focus)))
    top = result.passages[:passages]
    best_sim = max((s for p in top for s in p.sentence_scores), default=0.0)
    best_bm25 = max((p.features.get("bm25", 0.0) for p in top), default=0.0) or 1.0
    given = given or reading.question
    asked = clause_terms(reading, result)
    rarest = _rarest(asked, index)
    numbers = numbers_in(reading.question)
    counted = set(terms(reading.focus[0])) if reading.kind == "count" and reading.focus else set()
    units = asked_rate(reading.clause or reading.question, terms)
    out: list[Candidate] = []
    for pn, passage in enumerate(top):
        meta = passage.metadata
        heading = f"{meta.get('title', '')} {meta.get('section', '')}"
        head_terms = set(terms(heading))
        head_words = _singulars(heading)
        passage_words = passage.terms
        lower_text = f"{heading} {passage.text}".lower()
        names_missing = _names_missing(reading.names, lower_text, index)
        focus_passage = len(focus_stems & passage_words) / len(focus_stems) if focus_stems else 0.0
        numbers_missing = _numbers_missing(numbers, lower_text)
        common = [
            float(passage.features.get("chunk", 0.0)),
            float(passage.score),
            1.0 / (pn + 1),
            float(passage.features.get("bm25", 0.0)) / best_bm25,
        ]
        sentence_term_sets = [set(terms(s)) for s in passage.sentences]
        specific = _specific(asked, head_terms, sentence_term_sets)
        residuals = passage.residual_scores or passage.sentence_scores
        for sn, (sentence, sim) in enumerate(zip(passage.sentences, passage.sentence_scores, strict=True)):
            sentence_terms = sentence_term_sets[sn]
            window = sentence_terms.union(*sentence_term_sets[max(sn - 1, 0) : sn + 2])
            words = _singulars(sentence) | head_words
            typed = has_shape(sentence, reading.kind, given)
            contexts = span_contexts(sentence, reading.kind, given)
            dated = bool(reading.years) and all(y in sentence for y in reading.years)
            x = [
                sim,
                sim - best_sim,
                *common,
                len(query_set & sentence_terms) / len(query_set) if query_set else 0.0,
                _weighted(sentence_terms, query, index),
                _weighted(head_terms, query, index),
                1.0 if focus else 0.0,
                sum(1 for f in focus if f in words) / len(focus) if focus else 0.0,
                len(focus_stems & (sentence_terms | head_terms)) / len(focus_stems) if focus_stems else 0.0,
                focus_passage,
                1.0 if reading.kind else 0.0,
                1.0 if typed else 0.0,
                1.0 if reading.kind and not typed else 0.0,
                1.0 if dated else 0.0,
                1.0 if reading.years and not dated else 0.0,
                names_missing,
                1.0 if sn == 0 else 0.0,
                math.log1p(len(sentence.split())) / 5.0,
                1.0 if leans_back(sentence) else 0.0,
                1.0 if any_number(sentence) else 0.0,
                1.0 if typed and new_shape(sentence, reading.kind, given) else 0.0,
                _weighted(sentence_terms | head_terms, asked, index),
                len(rarest & (sentence_terms | head_terms)) / len(rarest) if rarest else 0.0,
                numbers_missing,
                0.0,
                0.0,
                0.0,
                0.0,
                _weighted(window | head_terms, asked, index),
                _weighted(sentence_terms, specific, index) if specific else 0.0,
                0.0,
                residuals[sn],
                0.0,
                1.0 if counted and counts(sentence, counted, terms) else 0.0,
                1.0 if rate_missing(units, sentence, terms) else 0.0,
                max((_weighted(set(terms(t)), asked, index) for t in contexts), default=0.0),
            ]
            out.append(Candidate(pn, sn, passage, np.asarray(x, dtype=np.float64)))
    _margins(out)
    return out


_MARGINS = (
    ("idf_overlap_margin", "idf_overlap"),
    ("clause_cover_margin", "clause_cover"),
    ("focus_stem_margin", "focus_stem"),
    ("specific_cover_margin", "specific_cover"),
    ("residual_sim_margin", "residual_sim"),
)


def _margins(out: list[Candidate]) -> None:
    """Each overlap beside the best any candidate of the question reaches: what picks the answer among a
    question's sentences is how a sentence compares with the others, which a linear score of absolute
    overlaps mixes up with how wordy the question is."""
    if not out:
        return
    matrix = np.stack([c.x for c in out])
    for margin, base in _MARGINS:
        column = SENTENCE_FEATURES.index(base)
        matrix[:, SENTENCE_FEATURES.index(margin)] = matrix[:, column] - matrix[:, column].max()
    sims = matrix[:, SENTENCE_FEATURES.index("sim")]
    order = np.argsort(-sims, kind="stable")
    ranks = np.empty(len(sims))
    ranks[order] = np.arange(len(sims))
    matrix[:, SENTENCE_FEATURES.index("sim_rank_inv")] = 1.0 / (ranks + 1.0)
    for c, row in zip(out, matrix, strict=True):
        c.x = row


def _specific(asked: list[str], head_terms: set[str], sentence_terms: list[set[str]]) -> list[str]:
    """The asked-for terms that tell a passage's sentences apart: not in its heading, and not in a third
    or more of its sentences. In a long article about one practice or person, the name the question
    gives is in the title and in sentence after sentence; what picks the answer among them is the rest
    of what is asked ("who mentored her", "what the building was valued at")."""
    n = len(sentence_terms)
    limit = max(2, math.ceil(n / 3))
    return [t for t in asked if t not in head_terms and sum(1 for s in sentence_terms if t in s) < limit]


def _rarest_in(asked: list[str], passage: Passage, index: CachedIndex | None) -> float:
    rarest = _rarest(asked, index) if index is not None else set()
    return len(rarest & passage.terms) / len(rarest) if rarest else 0.0


def question_features(reading: Reading, scored: list[Candidate], result: RetrievalResult) -> np.ndarray:
    """Features of a question's best candidates, for the answerability model. `scored` carry `p`."""
    f = SENTENCE_FEATURES.index
    if not scored:
        return np.zeros(len(ANSWERABLE_FEATURES))
    ranked = sorted(scored, key=lambda c: -c.p)
    best = ranked[0]
    top = ranked[:5]
    index = result.index
    query = list(dict.fromkeys(result.query_terms))
    covered: set[str] = set()
    for passage in result.passages[:2]:
        covered |= passage.terms
    column = np.stack([c.x for c in scored])
    asked = clause_terms(reading, result)
    vocabulary = index.idf if index is not None else {}
    known = [t for t in asked if t in vocabulary]
    missing_idf = [vocabulary[t] for t in known if t not in covered]
    known_idf = sum(vocabulary[t] for t in known)
    ceiling = math.log(len(index.ids) + 1.5) if index is not None else 1.0
    unknown = len(asked) - len(known)
    # The same for the passage the best sentence comes from: the answer's own context must speak of all.
    own_missing = [vocabulary[t] for t in known if t not in best.passage.terms]
    x = [
        best.p,
        ranked[1].p if len(ranked) > 1 else 0.0,
        float(column[:, f("sim")].max()),
        float(column[:, f("passage_score")].max()),
        float(column[:, f("idf_overlap")].max()),
        _weighted(covered, query, index) if index is not None else 0.0,
        1.0 if reading.focus else 0.0,
        best.feature("focus_exact"),
        float(column[:, f("focus_exact")].max()),
        float(column[:, f("focus_stem")].max()),
        float(column[:, f("focus_passage")].max()),
        1.0 if reading.kind else 0.0,
        best.feature("kind_present"),
        max(c.feature("kind_present") for c in top),
        1.0 if reading.years else 0.0,
        float(column[:, f("year_present")].max()),
        float(column[:, f("names_missing")].min()),
        1.0 if reading.yes_no else 0.0,
        best.feature("kind_new"),
        max(c.feature("kind_new") for c in top),
        best.feature("clause_cover"),
        max(c.feature("clause_cover") for c in top),
        best.feature("clause_rarest"),
        _rarest_in(asked, best.passage, index),
        max(missing_idf, default=0.0) / ceiling,
        sum(missing_idf) / known_idf if known_idf else 0.0,
        unknown / len(asked) if asked else 0.0,
        1.0 if numbers_in(reading.question) else 0.0,
        min(c.feature("numbers_missing") for c in scored if c.pn < 2) if scored[0].pn < 2 else 1.0,
        # How much an answer-shaped span says depends on the kind: any number passes for a count, only a
        # sum for money. One indicator per kind, and the best sentence's new span per kind.
        *(1.0 if reading.kind == k else 0.0 for k in KINDS),
        *(best.feature("kind_new") if reading.kind == k else 0.0 for k in KINDS),
        max(own_missing, default=0.0) / ceiling,
        sum(own_missing) / known_idf if known_idf else 0.0,
        # The likeliest sentence that holds a new answer of the kind asked for (none: nothing to offer).
        max((c.p for c in scored if c.feature("kind_new")), default=0.0) if reading.kind else best.p,
        best.feature("window_cover"),
        max(c.feature("window_cover") for c in top),
        best.feature("specific_cover"),
        max(c.feature("specific_cover") for c in top),
        # How far the best passage and the best sentence stand above the next: an answer usually stands
        # out, while a question the library only brushes against finds several passages about as near.
        _gap([p.score for p in result.passages]),
        _gap(column[:, f("sim")].tolist()),
        # The same beliefs as log-odds: a probability near 0 or 1 squeezes differences a linear model
        # of the answer could use.
        _logit(best.p),
        _logit(max((c.p for c in scored if c.feature("kind_new")), default=0.0) if reading.kind else best.p),
        best.feature("counts_focus"),
        max(c.feature("counts_focus") for c in top),
        best.feature("rate_missing"),
        min(c.feature("rate_missing") for c in top),
        best.feature("span_cover"),
        max(c.feature("span_cover") for c in top),
        # How many of the top passages come from the best sentence's document: an answer usually sits in
        # one document the search finds again and again, a question the library brushes finds many.
        sum(1 for p in result.passages[:6] if p.metadata.get("source") == best.passage.metadata.get("source"))
        / max(len(result.passages[:6]), 1),
    ]
    return np.asarray(x, dtype=np.float64)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _gap(values: list[float]) -> float:
    """The best value's lead over the second (0 with fewer than two)."""
    if len(values) < 2:
        return 0.0
    first, second = sorted(values, reverse=True)[:2]
    return float(first - second)
