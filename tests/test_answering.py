"""The learned answer policy on small synthetic documents, through the real model, Chroma and service.

The documents are made up here (a fictional "widget licence" scheme and "gizmo hubs"), so nothing below
can pass by remembering the evaluation sets.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.answering import model
from assistant.answering.features import ANSWERABLE_FEATURES, SENTENCE_FEATURES
from assistant.answering.model import LogisticModel, ModelFileError
from assistant.service import AnswerService

WIDGETS = """---
title: The widget licence scheme
topic: testing
---
# The widget licence scheme

## Background
The widget licence scheme lets a practice buy shared widgets through the regional hub. It was introduced
to simplify procurement across the region, after several practices bought incompatible widgets. The hub
keeps a register of every licensed practice and checks it each spring.

## Cost
The widget licence costs £4,500 a year for each practice. Practices with fewer than 3,000 patients pay
half. The fee is invoiced every April by the regional hub.

## Launch
The scheme was launched on 3 March 2031 by the regional hub.
"""

GIZMOS = """---
title: Gizmo hubs
topic: testing
---
# Gizmo hubs

## How many there are
There are 14 gizmo hubs across the county, each serving about six practices. A gizmo hub is staffed by two
technicians who visit practices on request.

## The gadget permit
Each gizmo hub also issues gadget permits to practices that want to lend gadgets to patients. A practice
applies for a gadget permit through its hub, and the permit must be renewed when the practice moves
premises. Permits are recorded on the hub's register.
"""


@pytest.fixture(scope="module")
def service(service_factory) -> AnswerService:  # type: ignore[no-untyped-def]
    return service_factory([("widgets.md", WIDGETS), ("gizmos.md", GIZMOS)])


@pytest.fixture(scope="module")
def service_factory(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    # Module scope: the documents are indexed once for all the tests here.
    from conftest import make_settings

    from ingest.indexer import Indexer

    def build(docs: list[tuple[str, str]]) -> AnswerService:
        base = tmp_path_factory.mktemp("answering")
        (base / "corpus").mkdir()
        for rel, text in docs:
            (base / "corpus" / rel).write_text(text, encoding="utf-8")
        settings = make_settings(base / "data")
        svc = AnswerService(settings, embedder=embedder)
        Indexer(settings, svc.store).run([base / "corpus"])
        return svc

    return build


def test_the_sentence_holding_the_amount_asked_for_is_chosen(service: AnswerService) -> None:
    answer = service.answer("How much does the widget licence cost?")
    assert answer.grounded, answer.answer
    assert "£4,500" in answer.answer
    assert answer.composer == "extractive"
    # The scorer's best sentence is the one with the sum, not the background sentence about the scheme
    # (which may follow it into the answer, quoted in the passage's own order).
    question = "How much does the widget licence cost?"
    judged = service._policy().judge(question, service.search.search(question))
    best = max(judged.scored, key=lambda c: c.p)
    assert "£4,500" in best.text, [(round(c.p, 3), c.text) for c in judged.scored]


def test_a_trap_asking_for_an_absent_figure_is_not_answered(service: AnswerService) -> None:
    answer = service.answer("How much does a gadget permit cost?")
    assert not answer.grounded, answer.answer
    assert answer.answer.startswith("The guidance doesn't give that. It does say:")
    assert answer.sources, "a partial answer shows what the documents do say, with its sources"
    assert any(s.source == "gizmos.md" for s in answer.sources)
    assert not re.search(r"£\d", answer.answer), "no figure from another topic is offered as the answer"


def test_an_off_topic_question_is_refused_with_nearest_topics(service: AnswerService) -> None:
    answer = service.answer("What is the capital city of Peru?")
    assert not answer.grounded
    assert "doesn't cover" in answer.answer


def test_a_two_part_question_cites_both_parts(service: AnswerService) -> None:
    answer = service.answer("When was the widget licence scheme launched, and how many gizmo hubs are there?")
    assert answer.grounded, answer.answer
    assert "3 March 2031" in answer.answer
    assert "14" in answer.answer
    cited = {s.source for s in answer.sources}
    assert cited == {"widgets.md", "gizmos.md"}
    assert re.findall(r"\[(\d+)\]", answer.answer) == [str(n) for n in range(1, len(answer.sources) + 1)]


def test_a_second_part_that_points_back_is_answered_about_the_first(service: AnswerService) -> None:
    answer = service.answer("How much does the widget licence cost, and when is its fee invoiced each year?")
    assert answer.grounded, answer.answer
    assert "£4,500" in answer.answer
    assert "April" in answer.answer


def test_retrieved_lists_passages_beside_the_cited_sources(service: AnswerService) -> None:
    answer = service.answer("How much does the widget licence cost?")
    assert len(answer.retrieved) >= len(answer.sources) >= 1
    assert {s.text for s in answer.sources} <= {r.text for r in answer.retrieved}
    assert all({"sentence", "chunk", "bm25"} <= set(r.features) for r in answer.retrieved)


def test_search_shows_features_and_the_answer_probability(service: AnswerService) -> None:
    response = service.search_passages("widget licence cost", k=3)
    assert response.query == "widget licence cost"
    assert 1 <= len(response.passages) <= 3
    scores = [p.score for p in response.passages]
    assert scores == sorted(scores, reverse=True)
    top = response.passages[0]
    assert top.source == "widgets.md"
    assert 0.0 <= top.features["answer_p"] <= 1.0


def test_shipped_models_load_and_refuse_other_features() -> None:
    scorer = model.load("sentence", SENTENCE_FEATURES)
    answerable = model.load("answerable", ANSWERABLE_FEATURES)
    assert scorer.features == SENTENCE_FEATURES
    assert answerable.features == ANSWERABLE_FEATURES
    p = scorer.predict(np.zeros((2, len(SENTENCE_FEATURES))))
    assert p.shape == (2,)
    assert np.all((p > 0) & (p < 1))
    with pytest.raises(ModelFileError, match="make train"):
        LogisticModel.from_json(scorer.to_json(), SENTENCE_FEATURES[:-1])


def test_a_question_no_sentence_is_near_is_refused_whatever_the_model_says(service: AnswerService) -> None:
    """The answer bound a refusal uses holds over the model: with an answerability model that is sure
    of everything, an on-topic question is answered and one from outside the library is still not."""
    from assistant.answering.policy import AnswerPolicy

    shipped = model.load("answerable", ANSWERABLE_FEATURES)
    always = LogisticModel(
        shipped.features, shipped.mean, shipped.scale, np.zeros_like(shipped.coef), 10.0, {}
    )
    policy = AnswerPolicy(service.settings.answer, passages=6, answerability=always)
    on_topic = "How much does the widget licence cost?"
    assert policy.answer(on_topic, service.search.search(on_topic)).grounded
    outside = "How long should I boil an egg for?"
    composition = policy.answer(outside, service.search.search(outside))
    assert not composition.grounded
    assert composition.reason == "off the topics the documents cover", composition.reason


LEVY_SHORT = """---
title: The gadget levy
topic: testing
---
# The gadget levy

## Abolition
The gadget levy was abolished on 9 May 2032.

## Before abolition
Practices paid the gadget levy each quarter to the county hub, which used it to repair shared gadgets.
"""

LEVY_LONG = """---
title: County hub changes
topic: testing
---
# County hub changes

## The levy
The gadget levy was abolished on 9 May 2032 and its repair work passed to the county hub.

## Staffing
The county hub took on three more technicians in 2032 to cover the repair work.
"""


def test_a_rare_spelling_beside_a_far_commoner_one_is_read_as_the_common_one(service_factory) -> None:  # type: ignore[no-untyped-def]
    from assistant.answering.features import clause_terms
    from assistant.answering.question import read

    notes = [
        (
            f"sprocket{i}.md",
            f"---\ntitle: Sprocket note {i}\ntopic: testing\n---\n# Sprocket note {i}\n\n"
            f"Each practice in district {i} keeps a sprocket register, checked by the district office.\n",
        )
        for i in range(10)
    ]
    notes.append(
        (
            "nursing.md",
            "---\ntitle: Nursing\ntopic: testing\n---\n# Nursing\n\n"
            "Nurses may practise alone once their sprocket training is signed off.\n",
        )
    )
    svc = service_factory(notes)
    question = "who checks the sprocket register of a practise"
    resolved = clause_terms(read(question), svc.retrieve(question))
    # "practise" is in the library, once; "practice" is in ten notes, one letter away.
    assert "practic" in resolved
    assert "practis" not in resolved
    # A word as common as its neighbours stays itself.
    assert "sprocket" in resolved
    assert "regist" in resolved


def test_a_fact_two_notes_repeat_is_quoted_once(service_factory) -> None:  # type: ignore[no-untyped-def]
    from assistant.answering.compose import near_duplicate

    short = "The gadget levy was abolished on 9 May 2032."
    long = "The gadget levy was abolished on 9 May 2032 and its repair work passed to the county hub."
    assert near_duplicate(short, long)
    assert near_duplicate(long, short)
    assert not near_duplicate(short, "The county hub took on three more technicians in 2032.")

    svc = service_factory([("levy.md", LEVY_SHORT), ("hub.md", LEVY_LONG)])
    answer = svc.answer("When was the gadget levy abolished?")
    assert answer.grounded, answer.answer
    assert "9 May 2032" in answer.answer
    assert answer.answer.count("was abolished on 9 May 2032") == 1, answer.answer


def test_a_misspelt_word_is_read_as_the_retrieved_passages_word(service: AnswerService) -> None:
    from assistant.answering.features import clause_terms
    from assistant.answering.question import read

    question = "how much does the widgit licence cost a practise"
    result = service.retrieve(question)
    plain, resolved = clause_terms(read(question)), clause_terms(read(question), result)
    assert "widgit" in plain
    assert "widget" in resolved
    assert "widgit" not in resolved
    # A word the library holds, and not rarely, is never re-read, however close another is.
    assert "licenc" in plain
    assert "licenc" in resolved
    answer = service.answer(question)
    assert answer.grounded, answer.answer
    assert "£4,500" in answer.answer


def _judgement(question: str, sentences: list[tuple[str, float]]):  # type: ignore[no-untyped-def]
    """A judged question over one made-up passage: each sentence with the scorer's probability, on the
    topic (similarity 0.6), and the question answerable."""
    from assistant.answering.features import Candidate
    from assistant.answering.policy import Judgement
    from assistant.answering.question import read
    from assistant.retrieval import Passage, RetrievalResult

    text = " ".join(s for s, _ in sentences)
    passage = Passage(
        question, text, {"source": f"{question}.md", "title": question}, 0.5, [s for s, _ in sentences]
    )
    result = RetrievalResult(question, question, [], [passage], {})
    scored = []
    for sn, (_, p) in enumerate(sentences):
        x = np.zeros(len(SENTENCE_FEATURES))
        x[SENTENCE_FEATURES.index("sim")] = 0.6
        scored.append(Candidate(0, sn, passage, x, p))
    return Judgement(question, read(question), result, scored, 0.9, 0.6)


def test_a_two_part_answer_leads_with_the_whole_questions_best_sentence() -> None:
    """One sentence often answers both parts of a question, while each part read alone prefers a
    sentence that answers only itself: the whole question's best sentence comes first, then the parts'."""
    from assistant.answering.policy import AnswerPolicy
    from assistant.config import AnswerSettings

    both = "By June 2033 the guild reported 640 members and recognition from the Nursing Council."
    whole = _judgement("How many members, and which council?", [(both, 0.9), ("The guild has a board.", 0.1)])
    first = _judgement("How many members", [("The guild had 640 members.", 0.8)])
    second = _judgement("which council", [("Councils recognise guilds with a code of conduct.", 0.7)])
    policy = AnswerPolicy(AnswerSettings())
    answer = policy.compose(whole, [first, second])
    assert answer.grounded
    assert answer.text.startswith(both), answer.text
    assert "The guild had 640 members." in answer.text
    assert "code of conduct" in answer.text
    assert re.findall(r"\[(\d+)\]", answer.text) == ["1", "2", "3"]
    # A whole question judged unanswerable lends no sentence: its parts answer alone.
    whole.probability = 0.0
    assert both not in policy.compose(whole, [first, second]).text


def test_answerability_sees_how_much_of_the_search_one_document_holds() -> None:
    """The share of the top passages from the best sentence's document: high when the search keeps
    finding one document, low when it finds a different one each time."""
    from assistant.answering.features import ANSWERABLE_FEATURES, question_features
    from assistant.retrieval import Passage

    judged = _judgement("How many members", [("The guild had 640 members.", 0.8)])
    best = judged.result.passages[0]
    share = ANSWERABLE_FEATURES.index("source_share")

    def with_others(sources: list[str]) -> float:
        others = [Passage(f"p{n}", "Text.", {"source": s}, 0.1, ["Text."]) for n, s in enumerate(sources)]
        judged.result.passages = [best, *others]
        return float(question_features(judged.reading, judged.scored, judged.result)[share])

    assert with_others([best.metadata["source"]] * 3) == 1.0
    assert with_others(["a.md", "b.md", "c.md"]) == 0.25
