"""The shipped model files are what `make train` produces from the committed splits.

The fit is deterministic (fixed folds, lbfgs, sorted questions), but the store's vectors come from a
fresh ingest here, so coefficients are compared with a small tolerance rather than byte for byte; the
chosen thresholds, the feature lists and the data digest must be equal, and the settings' defaults must
be the thresholds chosen on dev.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import EVAL_DIR

from assistant.answering.features import ANSWERABLE_FEATURES
from assistant.answering.model import MODELS_DIR, BoostedTrees, ModelFileError
from assistant.answering.train import train
from assistant.config import AnswerSettings
from assistant.service import AnswerService


@pytest.fixture(scope="module")
def retrained(eval_service: AnswerService, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models")
    chosen = train(eval_service.settings, EVAL_DIR, out, log=lambda _m: None)
    return out, chosen


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", ["sentence", "answerable"])
def test_shipped_model_matches_a_fresh_training_run(retrained: tuple[Path, dict], name: str) -> None:
    out, _ = retrained
    shipped = json.loads((MODELS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    fresh = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert shipped["features"] == fresh["features"]
    assert shipped["meta"]["data"] == fresh["meta"]["data"], "the splits changed since the files were fitted"
    assert shipped["meta"]["C"] == fresh["meta"]["C"]
    np.testing.assert_allclose(shipped["coef"], fresh["coef"], atol=0.05)
    np.testing.assert_allclose(shipped["intercept"], fresh["intercept"], atol=0.05)


@pytest.mark.timeout(1800)
def test_shipped_trees_match_a_fresh_training_run(retrained: tuple[Path, dict]) -> None:
    """Trees are compared by what they predict, not node by node: a fresh ingest moves the features a
    little, and a split point a little with them. Rows are drawn around the training data's mean at its
    spread (the logistic model's standardisation records both)."""
    out, _ = retrained
    shipped = BoostedTrees.from_json(
        (MODELS_DIR / "answerable_trees.json").read_text(encoding="utf-8"), ANSWERABLE_FEATURES
    )
    fresh = BoostedTrees.from_json(
        (out / "answerable_trees.json").read_text(encoding="utf-8"), ANSWERABLE_FEATURES
    )
    assert shipped.meta["data"] == fresh.meta["data"], "the splits changed since the files were fitted"
    assert len(shipped.trees) == len(fresh.trees) == shipped.meta["n_estimators"]
    logistic = json.loads((out / "answerable.json").read_text(encoding="utf-8"))
    rows = np.random.default_rng(0).normal(size=(400, len(ANSWERABLE_FEATURES)))
    rows = rows * np.asarray(logistic["scale"]) + np.asarray(logistic["mean"])
    assert float(np.abs(shipped.predict(rows) - fresh.predict(rows)).mean()) <= 0.03


def test_trees_predict_as_scikit_learn_does() -> None:
    """The numpy walk over the stored nodes gives scikit-learn's own probabilities, through the file."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(int)
    clf = GradientBoostingClassifier(max_depth=3, n_estimators=40, random_state=0).fit(x, y)
    names = ("a", "b", "c", "d")
    trees = BoostedTrees.from_json(BoostedTrees.from_sklearn(clf, names, x, {}).to_json(), names)
    held_out = rng.normal(size=(200, 4))
    np.testing.assert_allclose(trees.predict(held_out), clf.predict_proba(held_out)[:, 1], atol=1e-9)
    with pytest.raises(ModelFileError):
        BoostedTrees.from_json(trees.to_json(), ("a", "b", "c"))


def test_settings_defaults_are_the_thresholds_chosen_on_dev(retrained: tuple[Path, dict]) -> None:
    """The defaults are the shipped choice exactly; a fresh run chooses the same, within one step of the
    grid (dev figures tie across neighbouring thresholds, and a fresh ingest moves vectors slightly)."""
    _, chosen = retrained
    shipped = json.loads((MODELS_DIR / "answerable.json").read_text(encoding="utf-8"))["meta"][
        "chosen_on_dev"
    ]
    defaults = AnswerSettings()
    assert {
        "min_answerable": defaults.min_answerable,
        "extra_sentence_min_p": defaults.extra_sentence_min_p,
    } == shipped
    assert abs(chosen["min_answerable"] - shipped["min_answerable"]) <= 0.0251
    assert abs(chosen["extra_sentence_min_p"] - shipped["extra_sentence_min_p"]) <= 0.101


def test_the_reader_uses_scikit_learns_stop_words_as_training_wrote_them(
    retrained: tuple[Path, dict],
) -> None:
    """The question reader loads the list from a file so serving never imports scikit-learn; the file
    must still be the library's list, and the one a fresh training run writes."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from assistant.answering.question import STOP_WORDS_FILE, stop_words

    out, _ = retrained
    shipped = STOP_WORDS_FILE.read_text(encoding="utf-8")
    assert shipped == (out / "stop_words.txt").read_text(encoding="utf-8")
    assert set(shipped.split()) == set(ENGLISH_STOP_WORDS)
    assert stop_words() >= ENGLISH_STOP_WORDS


def test_answering_a_question_does_not_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from assistant.service import AnswerService; "
        "from assistant.answering.question import read; read('When did ICBs start?'); "
        "print('sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.timeout(900)
def test_cross_validation_judges_train_and_dev_without_reading_test(
    eval_service: AnswerService, tmp_path: Path
) -> None:
    """The yardstick methods are chosen on: every train and dev question judged by models fitted
    without its document. It runs from a folder holding only train and dev, so it cannot read test."""
    from assistant.answering.crossval import crossval

    for name in ("train", "dev"):
        (tmp_path / f"{name}.jsonl").write_bytes((EVAL_DIR / f"{name}.jsonl").read_bytes())
    figures = crossval(eval_service.settings, tmp_path)
    lines = [
        line
        for name in ("train", "dev")
        for line in (EVAL_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert figures["questions"] == len(lines)
    # Held out, the answerability model still separates answerable questions from the rest, and the
    # grid holds a threshold within the false-refusal bound.
    assert figures["auc"] >= 0.75, figures
    bound = figures["at_false_refusals_bound"]
    assert bound is not None, figures
    assert bound["false_refusals"] <= 0.05, figures
    assert 0.0 < bound["accuracy"] <= figures["accuracy_answering_all"] + 1e-9, figures
