"""Quality floors on tests/eval/questions.jsonl, measured through the real answer chain.

The floors sit about 0.03 below the figures measured when they were set (see MEASURED), so a regression
fails the suite while ordinary noise does not. They are not the issue's targets (answer accuracy >= 0.90,
recall@4 >= 0.95, refusal accuracy >= 0.90, false refusals <= 5%): raise them towards the targets as the
measured figures improve, never above them. The whole report, misses included, is printed (`pytest -s`)
and written to tests/artifacts/eval.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation import EvalReport, evaluate, load_questions
from assistant.service import AnswerService

TESTS = Path(__file__).resolve().parent
QUESTIONS = TESTS / "eval" / "questions.jsonl"
ARTIFACT = TESTS / "artifacts" / "eval.json"

TARGETS = {"answer_accuracy": 0.90, "context_recall_at_4": 0.95, "refusal_accuracy": 0.90}
TARGET_MAX_FALSE_REFUSALS = 0.05
# Measured on the shipped corpus when the floors were set (two identical runs, 2026-11-23).
MEASURED = {
    "answer_accuracy": 0.90,
    "context_recall_at_4": 0.95,
    "refusal_accuracy": 0.92,
    "false_refusal_rate": 0.0,
}
FLOORS = {"answer_accuracy": 0.87, "context_recall_at_4": 0.92, "refusal_accuracy": 0.89}
# 0.03 over the measured 0.0 would be stricter than the target, so the ceiling is the target itself.
MAX_FALSE_REFUSALS = 0.05


@pytest.fixture(scope="module")
def report(corpus_service: AnswerService) -> EvalReport:
    result = evaluate(corpus_service, load_questions(QUESTIONS))
    print(f"\nEvaluation on {QUESTIONS.name}\n{result.text()}")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def test_floors_never_exceed_the_targets() -> None:
    for name, floor in FLOORS.items():
        assert floor <= TARGETS[name], name
    assert MAX_FALSE_REFUSALS >= TARGET_MAX_FALSE_REFUSALS


@pytest.mark.timeout(3600)
def test_eval_set_meets_the_floors(report: EvalReport) -> None:
    questions = load_questions(QUESTIONS)
    assert report.total == len(questions)
    assert report.answerable + report.unanswerable == report.total
    assert report.unanswerable == sum(q.get("kind") == "unanswerable" for q in questions)
    assert ARTIFACT.exists()

    failures = report.shortfalls(FLOORS, MAX_FALSE_REFUSALS)
    assert not failures, "; ".join(failures) + f" (misses in {ARTIFACT})"
