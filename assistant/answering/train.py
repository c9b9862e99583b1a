"""Fit the sentence scorer and the answerability model; choose the policy's thresholds on dev.

    pm-ingest corpus tests/eval/documents --data-dir var/eval     # the store the questions are about
    python -m assistant.answering.train --data-dir var/eval       # what `make train` runs

Method (design.md, "Method rules"): the models are fitted on the *train* split only, their
regularisation chosen by cross-validation grouped by document (a document's sentences never sit on both
sides of a fold); the thresholds are chosen on *dev* (the false-refusal bound checked on dev pooled
with the train split's out-of-fold probabilities, `pooled_false_refusals`); the *test* split is not
read here at all. The
answerability model is fitted on out-of-fold sentence probabilities, so it sees the scorer as it
behaves on questions it was not fitted on. Everything is deterministic (fixed folds, lbfgs, sorted
inputs), so the same store and splits give the same files; `tests/test_models.py` checks the shipped
files against a fresh run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering import model
from assistant.answering.features import (
    ANSWERABLE_FEATURES,
    SENTENCE_FEATURES,
    candidates,
    question_features,
)
from assistant.answering.policy import AnswerPolicy
from assistant.answering.question import part_queries, question_parts, read
from assistant.config import AnswerSettings, Settings
from assistant.retrieval import RetrievalResult

EVAL_DIR = Path("tests/eval")
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
THRESHOLDS = tuple(round(float(t), 3) for t in np.arange(0.05, 0.951, 0.025))
EXTRA_P = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MAX_FALSE_REFUSALS = 0.05
FOLDS = 5
# The boosted trees for answerability: shallow (three levels: interactions of three features at most),
# slow (a learning rate of 0.05 over 200 trees) and with leaves of twenty questions or more, for eight
# hundred questions. Fixed, not searched: cross-validation over train and dev compared depths 2 and 3.
TREES = {"max_depth": 3, "learning_rate": 0.05, "n_estimators": 200, "min_samples_leaf": 20}


@dataclass
class Example:
    """One question of a split with its retrievals (the whole question first, then its parts)."""

    q: dict[str, Any]
    results: list[RetrievalResult]
    parts: list[str]

    @property
    def answerable(self) -> bool:
        return self.q.get("kind") != "unanswerable"


def has_key(text: str, keys: list[str]) -> bool:
    low = text.lower()
    return any(k.lower() in low for k in keys)


def has_all(text: str, keys: list[str]) -> bool:
    low = text.lower()
    return all(k.lower() in low for k in keys)


def load_split(name: str, directory: Path = EVAL_DIR) -> list[dict[str, Any]]:
    path = directory / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def retrieve(search: Any, questions: list[dict[str, Any]]) -> list[Example]:
    """Retrieval as the service does it: a two-part question is searched whole and by part."""
    out = []
    for q in questions:
        parts = question_parts(q["question"])
        parts = parts if len(parts) > 1 else []
        out.append(Example(q, search.search_many([q["question"], *part_queries(parts)]), parts))
    return out


def _sentence_rows(examples: list[Example], passages: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate sentences of every question, labelled by whether they hold an answer key. An unanswerable
    question's sentences hold none: the scorer learns what a sentence that only looks like an answer is."""
    xs, ys, groups = [], [], []
    for ex in examples:
        keys = list(ex.q["answer_keys"]) if ex.answerable else []
        for question, result in zip([ex.q["question"], *ex.parts], ex.results, strict=True):
            for c in candidates(read(question), result, passages, f"{question} {result.expanded}"):
                xs.append(c.x)
                ys.append(1 if keys and has_key(c.text, keys) else 0)
                groups.append(ex.q["doc"])
    return np.stack(xs), np.asarray(ys), np.asarray(groups)


def _fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, names: tuple[str, ...], meta: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Standardised logistic regression, C chosen by grouped cross-validated log loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    folds = list(GroupKFold(n_splits=min(FOLDS, len(set(groups.tolist())))).split(x, y, groups))
    losses = {}
    oof_by_c = {}
    for c in C_GRID:
        oof = np.zeros(len(y))
        for tr, va in folds:
            scaler = StandardScaler().fit(x[tr])
            clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x[tr]), y[tr])
            oof[va] = clf.predict_proba(scaler.transform(x[va]))[:, 1]
        losses[c] = log_loss(y, oof, labels=[0, 1])
        oof_by_c[c] = oof
    best_c = min(C_GRID, key=lambda c: (round(losses[c], 6), c))
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    clf = LogisticRegression(C=best_c, max_iter=2000).fit((x - scaler.mean_) / scale, y)
    import sklearn

    fitted = model.LogisticModel(
        names,
        scaler.mean_,
        scale,
        clf.coef_[0],
        float(clf.intercept_[0]),
        {
            **meta,
            "C": best_c,
            "cv_log_loss": {str(c): round(v, 4) for c, v in losses.items()},
            "rows": len(y),
            "positives": int(y.sum()),
            "sklearn": sklearn.__version__,
            "trained_by": "assistant/answering/train.py",
        },
    )
    return fitted, oof_by_c[best_c]


def fit_trees(x: np.ndarray, y: np.ndarray, meta: dict[str, Any]) -> model.BoostedTrees:
    """Gradient-boosted trees on the answerability rows (deterministic: no subsampling, a fixed seed)."""
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier

    clf = GradientBoostingClassifier(**TREES, subsample=1.0, random_state=0).fit(x, y)
    info = {
        **meta,
        **TREES,
        "rows": len(y),
        "sklearn": sklearn.__version__,
        "trained_by": "assistant/answering/train.py",
    }
    return model.BoostedTrees.from_sklearn(clf, ANSWERABLE_FEATURES, x, info)


def _fit_answerability(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, meta: dict[str, Any]
) -> tuple[model.LogisticModel, model.BoostedTrees, np.ndarray]:
    """The logistic model (C by grouped cross-validation) and the trees, with the out-of-fold
    probabilities of their average over the same folds: held-out evidence for the false-refusal bound."""
    from sklearn.model_selection import GroupKFold

    logistic, logistic_oof = _fit(x, y, groups, ANSWERABLE_FEATURES, meta)
    trees_oof = np.zeros(len(y))
    for tr, va in GroupKFold(n_splits=min(FOLDS, len(set(groups.tolist())))).split(x, y, groups):
        trees_oof[va] = fit_trees(x[tr], y[tr], meta).predict(x[va])
    return logistic, fit_trees(x, y, meta), (logistic_oof + trees_oof) / 2


def _question_rows(
    examples: list[Example], scorer: model.LogisticModel, passages: int, oof: dict[int, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answerability rows: the whole question's best candidates; label: the documents answer it."""
    xs, ys, groups = [], [], []
    row = 0
    for ex in examples:
        question, result = ex.q["question"], ex.results[0]
        reading = read(question)
        scored = candidates(reading, result, passages, f"{question} {result.expanded}")
        if scored:
            probs = scorer.predict(np.stack([c.x for c in scored]))
            for c, p in zip(scored, probs, strict=True):
                c.p = float(p)
        if oof is not None:
            # Out-of-fold probabilities for the train split's own sentences (same order as _sentence_rows).
            for c in scored:
                c.p = oof.get(row, c.p)
                row += 1
            for _part, _result in zip(ex.parts, ex.results[1:], strict=True):
                row += len(candidates(read(_part), _result, passages, f"{_part} {_result.expanded}"))
        xs.append(question_features(reading, scored, result))
        ys.append(1 if ex.answerable else 0)
        groups.append(ex.q["doc"])
    return np.stack(xs), np.asarray(ys), np.asarray(groups)


def judge_all(examples: list[Example], policy: AnswerPolicy) -> list[tuple[Any, list[Any]]]:
    """Each example judged once (whole question, then its parts): the features and probabilities do not
    depend on the thresholds being chosen, so the grid reuses them."""
    return [
        (
            policy.judge(ex.q["question"], ex.results[0]),
            [policy.judge(part, result) for part, result in zip(ex.parts, ex.results[1:], strict=True)],
        )
        for ex in examples
    ]


def evaluate_policy(
    examples: list[Example], policy: AnswerPolicy, judged: list[tuple[Any, list[Any]]]
) -> dict[str, float]:
    """Accuracy (all keys in a grounded answer), refusal accuracy and false refusals, as the service."""
    correct = refused_ok = false_refusals = answerable = unanswerable = 0
    for ex, (whole, parts) in zip(examples, judged, strict=True):
        composition = policy.compose(whole, parts)
        if ex.answerable:
            answerable += 1
            correct += composition.grounded and has_all(composition.text, ex.q["answer_keys"])
            false_refusals += not composition.grounded
        else:
            unanswerable += 1
            refused_ok += not composition.grounded
    return {
        "accuracy": correct / max(answerable, 1),
        "refusal": refused_ok / max(unanswerable, 1),
        "false_refusals": false_refusals / max(answerable, 1),
    }


def pooled_false_refusals(
    dev_rate: float, dev_ex: list[Example], held_out: np.ndarray, threshold: float
) -> float:
    """False refusals over dev's answerable questions and the train split's, the latter judged by their
    out-of-fold probabilities (a question is refused below the threshold).

    Why pooled: dev holds about a hundred answerable questions, so one question moves its false-refusal
    rate by a point; a bound checked on dev alone picks a threshold that overshoots it on new questions
    (grouped cross-validation over train and dev put the threshold that keeps false refusals within 5%
    well below the one dev alone picks). Out-of-fold probabilities come from models that never saw the
    question's document, so they are held-out evidence as dev's are; accuracy and refusal, which the
    threshold trades against, are still read on dev alone."""
    dev_answerable = sum(1 for ex in dev_ex if ex.answerable)
    refused = dev_rate * dev_answerable + float((held_out < threshold).sum())
    return refused / max(dev_answerable + len(held_out), 1)


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def train(
    settings: Settings, eval_dir: Path = EVAL_DIR, out_dir: Path = model.MODELS_DIR, log=print
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Fit both models on train, choose thresholds on dev, write the model files; returns the choice."""
    from assistant.service import AnswerService

    service = AnswerService(settings)
    passages = settings.retrieval.top_k
    train_q = sorted(load_split("train", eval_dir), key=lambda q: q["id"])
    dev_q = sorted(load_split("dev", eval_dir), key=lambda q: q["id"])
    meta = {"data": digest(eval_dir / "train.jsonl", eval_dir / "dev.jsonl")}
    log(f"retrieving {len(train_q)} train and {len(dev_q)} dev questions")
    train_ex = retrieve(service.search, train_q)
    dev_ex = retrieve(service.search, dev_q)

    x, y, groups = _sentence_rows(train_ex, passages)
    scorer, oof = _fit(x, y, groups, SENTENCE_FEATURES, meta)
    log(f"sentence scorer: {len(y)} candidates, {int(y.sum())} hold a key, C={scorer.meta['C']}")
    qx, qy, qgroups = _question_rows(train_ex, scorer, passages, dict(enumerate(oof)))
    logistic, trees, train_oof = _fit_answerability(qx, qy, qgroups, meta)
    answerability = model.Averaged((logistic, trees))
    # The train split's answerable questions, each with the probability a model not fitted on its
    # document gave it: held-out evidence for the false-refusal bound beside dev's.
    held_out = train_oof[qy == 1]
    log(f"answerability: {len(qy)} questions, {int(qy.sum())} answerable, C={logistic.meta['C']}, trees")

    titles = service.cache.current().titles
    base = AnswerPolicy(
        settings.answer, titles, passages=passages, scorer=scorer, answerability=answerability
    )
    dev_judged = judge_all(dev_ex, base)
    curve = []
    best: tuple[float, float, float] | None = None
    best_key: tuple[float, ...] = ()
    for extra in EXTRA_P:
        for t in THRESHOLDS:
            answer_settings = AnswerSettings(
                **{**settings.answer.model_dump(), "min_answerable": t, "extra_sentence_min_p": extra}
            )
            policy = AnswerPolicy(
                answer_settings, titles, passages=passages, scorer=scorer, answerability=answerability
            )
            m = evaluate_policy(dev_ex, policy, dev_judged)
            m["pooled_false_refusals"] = pooled_false_refusals(m["false_refusals"], dev_ex, held_out, t)
            curve.append(
                {"min_answerable": t, "extra_sentence_min_p": extra, **{k: round(v, 4) for k, v in m.items()}}
            )
            ok = m["pooled_false_refusals"] <= MAX_FALSE_REFUSALS
            # Ties go to the lower threshold (fewer refusals) and the lower sentence bar (fuller answers):
            # an answer missing a part costs its reader more than one more sentence on the topic, and on
            # the 668 cross-validated questions accuracy falls as the bar rises where dev cannot tell.
            key = (ok, round(m["accuracy"] + m["refusal"], 4), round(m["accuracy"], 4), -t, -extra)
            if best is None or key > best_key:
                best, best_key = (t, extra, m["accuracy"]), key
    assert best is not None
    chosen = {"min_answerable": best[0], "extra_sentence_min_p": best[1]}
    dev_at_choice = next(
        c for c in curve if c["min_answerable"] == best[0] and c["extra_sentence_min_p"] == best[1]
    )
    log(f"chosen on dev: {chosen} -> {dev_at_choice}")
    log(
        "dev curve at the chosen extra_sentence_min_p"
        " (threshold: accuracy / refusal / false refusals, pooled with train out-of-fold):"
    )
    for c in curve:
        if c["extra_sentence_min_p"] == best[1]:
            figures = (
                f"{c['accuracy']:.3f} / {c['refusal']:.3f} / {c['false_refusals']:.3f}"
                f" (pooled {c['pooled_false_refusals']:.3f})"
            )
            log(f"  {c['min_answerable']:.3f}: {figures}")
    logistic.meta.update(
        {
            "chosen_on_dev": chosen,
            "dev": dev_at_choice,
            "target": f"false refusals <= {MAX_FALSE_REFUSALS} on dev pooled with train out-of-fold",
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_stop_words(out_dir / "stop_words.txt")
    (out_dir / "sentence.json").write_text(scorer.to_json(), encoding="utf-8")
    (out_dir / "answerable.json").write_text(logistic.to_json(), encoding="utf-8")
    (out_dir / "answerable_trees.json").write_text(trees.to_json(), encoding="utf-8")
    (out_dir / "dev_curve.json").write_text(json.dumps(curve, indent=0) + "\n", encoding="utf-8")
    model.load.cache_clear()
    model.load_trees.cache_clear()
    return chosen


def stop_words_text() -> str:
    """scikit-learn's English stop words, one per line, sorted: what the question reader loads."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return "".join(f"{word}\n" for word in sorted(ENGLISH_STOP_WORDS))


def write_stop_words(path: Path) -> None:
    path.write_text(stop_words_text(), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.answering.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, default=Path("var/eval"))
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--out", type=Path, default=model.MODELS_DIR)
    args = parser.parse_args(argv)
    settings = Settings(data_dir=args.data_dir)
    chosen = train(settings, args.eval_dir, args.out, log=lambda m: print(m, file=sys.stderr))
    defaults = AnswerSettings()
    if (defaults.min_answerable, defaults.extra_sentence_min_p) != (
        chosen["min_answerable"],
        chosen["extra_sentence_min_p"],
    ):
        print(
            f"note: AnswerSettings defaults ({defaults.min_answerable}, {defaults.extra_sentence_min_p}) "
            f"differ from the values chosen on dev; set them in assistant/config.py",
            file=sys.stderr,
        )
    print(json.dumps(chosen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
