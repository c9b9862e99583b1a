"""The fitted models, stored as small JSON files: standardised logistic-regression coefficients, and for
answerability also gradient-boosted trees node by node, the two averaged.

Following scikit-learn's advice on model persistence, each file carries what made it (the training
script, the question sets' digest, the scikit-learn version) and the names of its features, which are
checked on load: a file fitted on other features is refused instead of silently misread. Prediction
needs only numpy, so serving does not import scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
T = TypeVar("T")


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable or fitted on other features than this code computes."""


def _checked(text: str, expected: tuple[str, ...]) -> dict[str, Any]:
    """A model file's contents, refused when fitted on other features than the code computes."""
    data: dict[str, Any] = json.loads(text)
    features = tuple(data["features"])
    if features != expected:
        raise ModelFileError(
            f"model was fitted on features {features} but the code computes {expected}; run `make train`"
        )
    return data


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for rows of `x` (or one row)."""
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def weights(self) -> dict[str, float]:
        """Each feature's weight on the standardised scale: what a maintainer reads to see what counts."""
        return {n: round(float(w), 4) for n, w in zip(self.features, self.coef, strict=True)}

    def to_json(self) -> str:
        payload = {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "meta": self.meta,
        }
        return json.dumps(payload, indent=1, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, expected: tuple[str, ...]) -> LogisticModel:
        data = _checked(text, expected)
        features = expected
        return cls(
            features,
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            dict(data.get("meta", {})),
        )


@dataclass(frozen=True, eq=False)
class BoostedTrees:
    """Gradient-boosted regression trees over the same features, stored node by node: what a linear
    model cannot weigh (a figure of the kind asked for counts for more when the asked words stand
    beside it) without hand-made products of features. Prediction walks the trees in numpy."""

    features: tuple[str, ...]
    trees: tuple[dict[str, np.ndarray], ...]
    baseline: float
    learning_rate: float
    meta: dict[str, Any]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for rows of `x` (or one row). The rows are compared in float32, as scikit-learn's
        trees compare them, so a value at a split point goes the way it went in training."""
        return 1.0 / (1.0 + np.exp(-(self.baseline + self._sum(x))))

    def _sum(self, x: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(x).astype(np.float32).astype(np.float64)
        if len(rows) == 1:
            return np.asarray([self._sum_one(rows[0].tolist())])
        raw = np.zeros(len(rows))
        for tree in self.trees:
            node = np.zeros(len(rows), dtype=np.int64)
            while True:
                left = tree["left"][node]
                inner = left >= 0
                if not inner.any():
                    break
                goes_left = rows[np.arange(len(rows)), tree["feature"][node]] <= tree["threshold"][node]
                node = np.where(inner, np.where(goes_left, left, tree["right"][node]), node)
            raw += self.learning_rate * tree["value"][node]
        return raw

    def _sum_one(self, row: list[float]) -> float:
        """One row, as serving asks: a walk over plain lists costs a fraction of numpy's per-call overhead."""
        total = 0.0
        for feature, threshold, left, right, value in self._lists:
            node = 0
            while left[node] >= 0:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += value[node]
        return self.learning_rate * total

    @cached_property
    def _lists(self) -> list[tuple[list[int], list[float], list[int], list[int], list[float]]]:
        return [
            (
                t["feature"].tolist(),
                t["threshold"].tolist(),
                t["left"].tolist(),
                t["right"].tolist(),
                t["value"].tolist(),
            )
            for t in self.trees
        ]

    def to_json(self) -> str:
        payload = {
            "features": list(self.features),
            "baseline": float(self.baseline),
            "learning_rate": self.learning_rate,
            "trees": [
                {
                    "feature": tree["feature"].tolist(),
                    "threshold": [float(v) for v in tree["threshold"]],
                    "left": tree["left"].tolist(),
                    "right": tree["right"].tolist(),
                    "value": [float(v) for v in tree["value"]],
                }
                for tree in self.trees
            ],
            "meta": self.meta,
        }
        return json.dumps(payload, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str, expected: tuple[str, ...]) -> BoostedTrees:
        data = _checked(text, expected)
        features = expected
        trees = tuple(
            {
                "feature": np.asarray(t["feature"], dtype=np.int64),
                "threshold": np.asarray(t["threshold"], dtype=np.float64),
                "left": np.asarray(t["left"], dtype=np.int64),
                "right": np.asarray(t["right"], dtype=np.int64),
                "value": np.asarray(t["value"], dtype=np.float64),
            }
            for t in data["trees"]
        )
        return cls(
            features, trees, float(data["baseline"]), float(data["learning_rate"]), dict(data.get("meta", {}))
        )

    @classmethod
    def from_sklearn(
        cls, clf: Any, features: tuple[str, ...], x: np.ndarray, meta: dict[str, Any]
    ) -> BoostedTrees:
        """From a fitted `GradientBoostingClassifier` (binary log loss). The baseline is read back from the
        classifier's own decision function, so it matches however the library stores its prior."""
        trees = []
        for estimator in clf.estimators_[:, 0]:
            t = estimator.tree_
            trees.append(
                {
                    "feature": np.where(t.children_left >= 0, t.feature, 0).astype(np.int64),
                    "threshold": t.threshold.astype(np.float64),
                    "left": t.children_left.astype(np.int64),
                    "right": t.children_right.astype(np.int64),
                    "value": t.value[:, 0, 0].astype(np.float64),
                }
            )
        partial = cls(features, tuple(trees), 0.0, float(clf.learning_rate), meta)
        baseline = float(clf.decision_function(x[:1])[0] - partial._sum(x[:1])[0])
        return cls(features, tuple(trees), baseline, float(clf.learning_rate), meta)


@dataclass(frozen=True)
class Averaged:
    """The mean of several models' probabilities: a linear model and boosted trees err on different
    questions, and their mean ranks answerable against unanswerable better than either."""

    models: tuple[Any, ...]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.models], axis=0)

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.models[0].meta)


def _load(
    parse: Callable[[str, tuple[str, ...]], T], name: str, expected: tuple[str, ...], directory: Path
) -> T:
    path = directory / f"{name}.json"
    try:
        return parse(path.read_text(encoding="utf-8"), expected)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"cannot load model {path}: {exc}; run `make train`") from exc


@lru_cache(maxsize=8)
def load(name: str, expected: tuple[str, ...], directory: Path = MODELS_DIR) -> LogisticModel:
    return _load(LogisticModel.from_json, name, expected, directory)


class Predictor(Protocol):
    """What the policy needs of a model: probabilities for rows of features."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...


@lru_cache(maxsize=8)
def load_trees(name: str, expected: tuple[str, ...], directory: Path = MODELS_DIR) -> BoostedTrees:
    return _load(BoostedTrees.from_json, name, expected, directory)


def answerability(expected: tuple[str, ...], directory: Path = MODELS_DIR) -> Averaged:
    """The shipped answerability model: the logistic model and the boosted trees, averaged."""
    return Averaged(
        (load("answerable", expected, directory), load_trees("answerable_trees", expected, directory))
    )
