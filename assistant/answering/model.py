"""The two fitted models, stored as small JSON files of standardised logistic-regression coefficients.

Following scikit-learn's advice on model persistence, each file carries what made it (the training
script, the question sets' digest, the scikit-learn version) and the names of its features, which are
checked on load: a file fitted on other features is refused instead of silently misread. Prediction
needs only numpy, so serving does not import scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable or fitted on other features than this code computes."""


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
        data = json.loads(text)
        features = tuple(data["features"])
        if features != expected:
            raise ModelFileError(
                f"model was fitted on features {features} but the code computes {expected}; run `make train`"
            )
        return cls(
            features,
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            dict(data.get("meta", {})),
        )


@lru_cache(maxsize=8)
def load(name: str, expected: tuple[str, ...], directory: Path = MODELS_DIR) -> LogisticModel:
    path = directory / f"{name}.json"
    try:
        return LogisticModel.from_json(path.read_text(encoding="utf-8"), expected)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"cannot load model {path}: {exc}; run `make train`") from exc
