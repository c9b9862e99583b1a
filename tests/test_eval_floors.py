"""Quality floors on the frozen test split (tests/eval/test.jsonl), through the real answer chain.

The test split is never tuned on (tests/eval/README.md): the models are fitted on train and their
thresholds chosen on dev by `make train`. The floors sit about 0.03 under the figures measured on the test
split when they were set (MEASURED), so a regression fails the suite while noise does not; they never sit
above the issue's targets. The report, with the naive composer beside every figure and every miss, is
printed (`pytest -s`) and written to tests/artifacts/eval-test.json. Also checked here: the long-form
documents ingest whole, and no page furniture reaches the index.
"""

from __future__ import annotations

import json

import pytest
from conftest import EVAL_DIR, EVAL_DOCUMENTS

from assistant.evaluation import EvalReport, evaluate, load_questions
from assistant.service import AnswerService

TEST_SPLIT = EVAL_DIR / "test.jsonl"
ARTIFACT = EVAL_DIR.parent / "artifacts" / "eval-test.json"

TARGETS = {"answer_accuracy": 0.90, "refusal_accuracy": 0.85}
TARGET_MAX_FALSE_REFUSALS = 0.05
MARGIN = 0.03
# Measured on the test split at the end of the work that set them (see the README's figures), with
# the int8 ONNX encoder and candidates from dense chunks + BM25, ranked again by best sentence; the
# answer threshold chosen for false refusals <= 5% on dev pooled with train out-of-fold.
MEASURED = {
    "answer_accuracy": 0.84,
    "naive_accuracy": 0.71,
    "context_recall_at_4": 0.97,
    "refusal_accuracy": 0.509,
    "false_refusal_rate": 0.06,
}
FLOORS = {
    name: round(min(MEASURED[name], TARGETS.get(name, 1.0)) - MARGIN, 2)
    for name in ("answer_accuracy", "context_recall_at_4", "refusal_accuracy")
}
MAX_FALSE_REFUSALS = round(MEASURED["false_refusal_rate"] + MARGIN, 2)

# Lines of page furniture in the saved pages; none of them is article text, so none may be stored.
FURNITURE = [
    "skip to main content",
    "skip to content",
    "share this article",
    "share this page",
    "accept all cookies",
    "sign up to our newsletter",
    "sign up for our newsletter",
    "subscribe to our newsletter",
    "follow us on",
    "outdated browser",
    "back to top",
    "was this page helpful",
    "all rights reserved",
    # A PDF's running footer ("Page 2 of 3") is furniture too.
    "page 2 of",
    "page 3 of",
]


@pytest.fixture(scope="module")
def report(eval_service: AnswerService) -> EvalReport:
    result = evaluate(eval_service, load_questions(TEST_SPLIT))
    print(f"\n{result.text('test split')}")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


@pytest.mark.timeout(3600)
def test_test_split_meets_the_floors(report: EvalReport) -> None:
    questions = load_questions(TEST_SPLIT)
    assert report.total == len(questions)
    assert report.unanswerable == sum(q.get("kind") == "unanswerable" for q in questions)
    failures = report.shortfalls(FLOORS, MAX_FALSE_REFUSALS)
    assert not failures, "; ".join(failures) + f" (misses in {ARTIFACT})"


def test_composer_beats_the_naive_baseline(report: EvalReport) -> None:
    # The aim is 0.15 above the naive composer; the floor keeps most of the measured margin.
    measured_margin = MEASURED["answer_accuracy"] - MEASURED["naive_accuracy"]
    assert report.answer_accuracy - report.naive_accuracy >= measured_margin - MARGIN


def test_every_evaluation_document_is_indexed_without_furniture(eval_service: AnswerService) -> None:
    expected = {p.name for p in EVAL_DOCUMENTS.iterdir() if p.is_file()}
    documents = {d.source: d for d in eval_service.documents()}
    assert expected <= set(documents)
    assert all(documents[name].chunks >= 2 for name in expected), {n: documents[n].chunks for n in expected}
    index = eval_service.cache.current()
    found = [
        (chunk.metadata.get("source"), phrase)
        for chunk in index.chunks([n for n, source in enumerate(index.sources) if source in expected])
        for text in [chunk.text]
        for phrase in FURNITURE
        if phrase in " ".join(text.split()).lower()
    ]
    assert found == []


def test_splits_are_disjoint_by_document() -> None:
    docs = {
        name: {q["doc"] for q in load_questions(EVAL_DIR / f"{name}.jsonl")}
        for name in ("train", "dev", "test")
    }
    assert not (docs["train"] & docs["dev"])
    assert not (docs["train"] & docs["test"])
    assert not (docs["dev"] & docs["test"])
    assert all(docs.values())
