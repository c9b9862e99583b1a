"""Grouped cross-validation of the whole answer method over train and dev: the yardstick for choosing
between methods (a feature, a model, a reading rule) before the test split is read.

    python -m assistant.answering.crossval --data-dir var/eval     # what `make crossval` runs

Why not dev alone: dev holds about a hundred answerable and fifty unanswerable questions, so one
question moves refusal by two points, and two methods that differ by less than that cannot be told
apart there. Here every train and dev question is judged by models fitted without its document (five
folds grouped by document, the answerability model fitted on inner out-of-fold sentence probabilities,
as `train.py` fits it), which puts six hundred held-out questions behind each figure. The regularisation
is the shipped models' (`C` in their meta), so a run costs about a minute. The test split is not read.

The figures: the answerability model's AUC (answerable against not); accuracy when every question is
answered (what sentence selection can reach); and, at the threshold of the grid that keeps false
refusals within 5%, accuracy and refusal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering import model
from assistant.answering.features import ANSWERABLE_FEATURES, SENTENCE_FEATURES
from assistant.answering.policy import AnswerPolicy, Judgement
from assistant.answering.train import (
    EVAL_DIR,
    MAX_FALSE_REFUSALS,
    THRESHOLDS,
    Example,
    _question_rows,
    _sentence_rows,
    fit_trees,
    has_all,
    load_split,
    retrieve,
)
from assistant.config import AnswerSettings, Settings

FOLDS = 5


def _logistic(x: np.ndarray, y: np.ndarray, c: float, names: tuple[str, ...]) -> model.LogisticModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    clf = LogisticRegression(C=c, max_iter=2000).fit((x - scaler.mean_) / scale, y)
    return model.LogisticModel(names, scaler.mean_, scale, clf.coef_[0], float(clf.intercept_[0]), {})


def _fold_models(
    train_ex: list[Example], passages: int, c_sentence: float, c_answer: float
) -> tuple[model.LogisticModel, model.Averaged]:
    """Both models fitted on one fold's training questions, as `train.py` fits them."""
    from sklearn.model_selection import GroupKFold

    x, y, groups = _sentence_rows(train_ex, passages)
    oof = np.zeros(len(y))
    inner = GroupKFold(n_splits=min(FOLDS, len(set(groups.tolist()))))
    for tr, va in inner.split(x, y, groups):
        oof[va] = _logistic(x[tr], y[tr], c_sentence, SENTENCE_FEATURES).predict(x[va])
    scorer = _logistic(x, y, c_sentence, SENTENCE_FEATURES)
    qx, qy, _ = _question_rows(train_ex, scorer, passages, dict(enumerate(oof)))
    return scorer, model.Averaged((_logistic(qx, qy, c_answer, ANSWERABLE_FEATURES), fit_trees(qx, qy, {})))


def crossval(settings: Settings, eval_dir: Path = EVAL_DIR) -> dict[str, Any]:
    """The held-out figures of the method as the code and the shipped models' regularisation stand."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    from assistant.service import AnswerService

    service = AnswerService(settings)
    passages = settings.retrieval.top_k
    questions = sorted(load_split("train", eval_dir) + load_split("dev", eval_dir), key=lambda q: q["id"])
    examples = retrieve(service.search, questions)
    titles = service.cache.current().titles
    shipped = (model.load("sentence", SENTENCE_FEATURES), model.load("answerable", ANSWERABLE_FEATURES))
    c_sentence, c_answer = (float(m.meta.get("C", 0.1)) for m in shipped)
    groups = np.asarray([ex.q["doc"] for ex in examples])
    judged: list[tuple[AnswerPolicy, Judgement, list[Judgement]]] = [None] * len(examples)  # type: ignore[list-item]
    for tr, va in GroupKFold(n_splits=FOLDS).split(np.zeros(len(examples)), groups=groups):
        scorer, answerability = _fold_models([examples[i] for i in tr], passages, c_sentence, c_answer)
        policy = AnswerPolicy(
            settings.answer, titles, passages=passages, scorer=scorer, answerability=answerability
        )
        for i in va:
            ex = examples[i]
            whole = policy.judge(ex.q["question"], ex.results[0])
            parts = [policy.judge(p, r) for p, r in zip(ex.parts, ex.results[1:], strict=True)]
            judged[i] = (policy, whole, parts)
    answerable = np.asarray([ex.answerable for ex in examples])
    probabilities = np.asarray([whole.probability for _, whole, _ in judged])
    curve = []
    for t in THRESHOLDS:
        correct = refused = false_refusals = 0
        for ex, (policy, whole, parts) in zip(examples, judged, strict=True):
            policy.settings = AnswerSettings(**{**settings.answer.model_dump(), "min_answerable": t})
            composition = policy.compose(whole, parts)
            if ex.answerable:
                correct += composition.grounded and has_all(composition.text, ex.q["answer_keys"])
                false_refusals += not composition.grounded
            else:
                refused += not composition.grounded
        n_yes, n_no = int(answerable.sum()), int((~answerable).sum())
        curve.append(
            {
                "min_answerable": t,
                "accuracy": round(correct / max(n_yes, 1), 4),
                "refusal": round(refused / max(n_no, 1), 4),
                "false_refusals": round(false_refusals / max(n_yes, 1), 4),
            }
        )
    within = [c for c in curve if c["false_refusals"] <= MAX_FALSE_REFUSALS]
    best = max(within, key=lambda c: (c["accuracy"] + c["refusal"], -c["min_answerable"]), default=None)
    return {
        "questions": len(examples),
        "answerable": int(answerable.sum()),
        "auc": round(float(roc_auc_score(answerable, probabilities)), 4),
        "accuracy_answering_all": curve[0]["accuracy"],
        "at_false_refusals_bound": best,
        "C": {"sentence": c_sentence, "answerable": c_answer},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.answering.crossval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, default=Path("var/eval"))
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    figures = crossval(Settings(data_dir=args.data_dir), args.eval_dir)
    print(json.dumps(figures, indent=1), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
