"""The answer policy: answer, answer in part, or refuse. Someone explaining a refusal reads this module.

For each question (and each part of a two-part question):
1. its reading (`question.read`: the kind of answer asked for, the wh-phrase's words, years, names);
2. every sentence of the top passages gets features (`features.candidates`) and the fitted sentence
   scorer's probability of holding the answer;
3. the fitted answerability model turns the best candidates' features into a calibrated probability
   that the documents answer the question;
4. the decision, with the thresholds in `AnswerSettings`:
   - probability >= `min_answerable` and the best sentence on the topic (similarity >= `min_support`):
     answer with the scorer's best sentences, cited;
   - otherwise, when the best sentence is still on the topic (similarity >= `min_support`): a partial
     answer, "The guidance doesn't give that. It does say: …", not grounded, with its sources;
   - otherwise: a refusal naming the nearest topics.
A two-part question with one part answered answers it and says which part it could not.

Whichever composer writes the text (extractive here), this decision runs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from assistant.answering import model
from assistant.answering.compose import Composition, ExtractiveComposer, Selection, shorten
from assistant.answering.features import (
    ANSWERABLE_FEATURES,
    SENTENCE_FEATURES,
    Candidate,
    candidates,
    question_features,
)
from assistant.answering.question import Reading, read
from assistant.config import AnswerSettings
from assistant.retrieval import RetrievalResult


@dataclass
class Judgement:
    """One question (or part) judged: its reading, scored candidates, and the answerability probability."""

    question: str
    reading: Reading
    result: RetrievalResult
    scored: list[Candidate]
    probability: float
    support: float


class AnswerPolicy:
    def __init__(
        self,
        settings: AnswerSettings,
        titles: dict[str, str] | None = None,
        *,
        passages: int = 6,
        scorer: model.LogisticModel | None = None,
        answerability: model.Predictor | None = None,
    ) -> None:
        """`scorer` and `answerability` default to the shipped models; training passes freshly fitted ones."""
        self.settings = settings
        self.passages = passages
        self.scorer = scorer or model.load("sentence", SENTENCE_FEATURES)
        self.answerability = answerability or model.answerability(ANSWERABLE_FEATURES)
        self.composer = ExtractiveComposer(settings, titles)

    # --- judging ---------------------------------------------------------------------------------------
    def judge(self, question: str, result: RetrievalResult) -> Judgement:
        reading = read(question)
        scored = candidates(reading, result, self.passages, f"{question} {result.expanded}")
        if scored:
            probs = self.scorer.predict(np.stack([c.x for c in scored]))
            for c, p in zip(scored, probs, strict=True):
                c.p = float(p)
        x = question_features(reading, scored, result)
        probability = float(self.answerability.predict(x)[0]) if scored else 0.0
        support = max((c.feature("sim") for c in scored), default=0.0)
        return Judgement(question, reading, result, scored, probability, support)

    def answers(self, judged: Judgement) -> bool:
        """The decision itself: the documents answer when the calibrated probability reaches the threshold
        and the best sentence is on the topic at all. The second condition is the one a refusal uses
        ("off the topics the documents cover"): a question no sentence is near is not answered whatever
        the model says, because the model learnt from questions about the documents and has seen few
        from outside them (its overlap features read a word the library never uses as nothing missing)."""
        return (
            bool(judged.scored)
            and judged.probability >= self.settings.min_answerable
            and judged.support >= self.settings.min_support
        )

    # --- deciding and composing ------------------------------------------------------------------------
    def answer(self, asked: str, result: RetrievalResult, today: date | None = None) -> Composition:
        """`result` was retrieved for the question (a follow-up joined to its antecedent); `asked` is the
        user's own latest wording, whose reading decides what is expected."""
        return self.compose(self.judge(asked, result), [], today)

    def answer_parts(
        self,
        asked: str,
        whole: RetrievalResult,
        parts: list[tuple[str, RetrievalResult]],
        today: date | None = None,
    ) -> Composition:
        """A two-part question: each part judged and answered from its own retrieval, one set of citations."""
        return self.compose(
            self.judge(asked, whole), [self.judge(part, result) for part, result in parts], today
        )

    def compose(self, whole: Judgement, parts: list[Judgement], today: date | None = None) -> Composition:
        """Decide and write the answer from judgements already made; training reuses them across the
        thresholds it tries."""
        today = today or date.today()
        if not parts:
            if self.answers(whole):
                selection = self._select(whole, self.settings.max_sentences, self.settings.max_words)
                composition = self.composer.render([selection], today)
                composition.probability = whole.probability
                return composition
            return self._decline(whole, today)
        judged = parts
        budget = self.settings.max_words // len(parts)
        answered = [j for j in judged if self.answers(j)]
        if not answered:
            return self._decline(whole, today)
        selections = [self._select(j, 2, budget) for j in answered]
        if self.answers(whole):
            # The whole question's own best sentences first: one sentence often answers both parts
            # ("By April 2022 it reported 1,000 members and recognition from the RCGP"), and each part
            # read alone can miss it for a sentence that answers only that part, or for none.
            selections.insert(0, self._select(whole, 2, budget))
        composition = self.composer.render(selections, today)
        composition.probability = min(j.probability for j in answered)
        for j in judged:
            if not self.answers(j):
                composition.notes.insert(
                    0, f'The guidance I hold doesn\'t cover this part: "{shorten(j.question)}".'
                )
        return composition

    def _select(self, judged: Judgement, max_sentences: int, max_words: int) -> Selection:
        return self.composer.select(judged.scored, max_sentences, max_words)

    def _decline(self, judged: Judgement, today: date) -> Composition:
        if judged.scored and judged.support >= self.settings.min_support:
            selection = self.composer.select(
                judged.scored, self.settings.partial_sentences, self.settings.max_words // 2, by_topic=True
            )
            return self.composer.partial(judged.question, selection, today, judged.probability)
        reason = "no passages" if not judged.scored else "off the topics the documents cover"
        return self.composer.refusal(judged.question, judged.result, judged.probability, reason)
