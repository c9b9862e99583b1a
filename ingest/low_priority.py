"""Embedding for background ingest jobs, kept from slowing the answers served beside it.

Answers and ingest share one machine; answers must win. Two ways, chosen by `PMA_INGEST__ISOLATION`:

- `process` (default): the chunks are embedded in a child process that holds its own copy of the model,
  runs at `os.nice(PMA_INGEST__NICE)` and uses one torch thread. The kernel then gives the answer
  path's threads the CPU whenever they want it, and the server's own embedder lock is never held by an
  ingest. The child is spawned (never forked from a process running threads) on the first job and kept
  for the life of the server; it exits when its parent does, so a killed server leaves no orphan
  behind, and a child that died is replaced at the next job.
- `thread`: embedding stays in the server process, with the server's model, in batches of
  `PMA_INGEST__EMBED_BATCH` texts with a `PMA_INGEST__PAUSE_MS` sleep between them, so the model lock is
  free for answers between batches.

Only the vectors cross the process boundary: Chroma and the record manager are written by the server
process alone (an embedded Chroma must have one writer).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import numpy as np

from assistant.config import IngestSettings
from assistant.embeddings import Embedder

PARENT_CHECK_S = 1.0

T = TypeVar("T")

# The child process's own model (set by `_init_child`).
_child_embedder: Embedder | None = None


def _exit_with(parent: int) -> None:
    """Exit once the server that started this child is gone, so a killed server leaves no orphan.
    (Not `PR_SET_PDEATHSIG`: that fires when the *thread* that spawned the child ends, and the spawning
    thread is a job thread, which ends whenever a server stops its job runner.)"""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _init_child(options: dict[str, Any], nice: int, parent: int) -> None:
    """Runs once in the child: exit with the parent, load the model, then one thread at low priority.
    The model loads before the priority drops: on a busy machine a niced import can take minutes, and a
    job waiting on it would only look stuck. `options` are the served embedder's (`Embedder.options()`),
    so the child writes vectors of the same backend into the same collections. `parent` is the server's
    pid as the server gave it: were the server gone before this runs, `os.getppid()` would already name
    whatever adopted the child, and the child would watch that forever."""
    global _child_embedder
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()
    _child_embedder = Embedder(**{**options, "threads": 1, "query_cache_size": 0})
    _child_embedder.load()
    if _child_embedder.backend == "torch":
        import torch

        torch.set_num_threads(1)
    if nice:
        os.nice(nice)


def _encode_in_child(texts: list[str]) -> np.ndarray:
    assert _child_embedder is not None, "the pool initializer did not run"
    return _child_embedder.encode(texts)


class ProcessEmbedder(Embedder):
    """An `Embedder` whose forward passes run in a low-priority child process."""

    def __init__(self, served: Embedder, nice: int, chunk_texts: int) -> None:
        super().__init__(served.model_path, served.batch_size)
        self._options = served.options()
        self._served_id = served.model_id  # settles the served backend, so both name one collection
        self._nice = nice
        self._chunk_texts = chunk_texts
        self._pool: ProcessPoolExecutor | None = None

    @property
    def model_id(self) -> str:
        return self._served_id

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_child,
                initargs=(self._options, self._nice, os.getpid()),
            )
        return self._pool

    def load(self) -> Any:
        """The model lives in the child; starting it is what "loading" means here."""
        self.encode(["warm up"])
        return None

    @property
    def loaded(self) -> bool:
        return self._pool is not None

    @property
    def dimension(self) -> int:
        return int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        try:
            return self._encode(texts)
        except BrokenProcessPool:
            # The child died (killed, or out of memory): start a new one and try once more.
            self.close()
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        # Several calls rather than one: progress stays visible and a huge file never makes one giant
        # pickle.
        pool = self._executor()
        parts = [
            pool.submit(_encode_in_child, texts[i : i + self._chunk_texts])
            for i in range(0, len(texts), self._chunk_texts)
        ]
        return np.concatenate([p.result() for p in parts]).astype(np.float32, copy=False)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs `fn` in the child, beside the model (see `Embedder.run`)."""
        try:
            return self._executor().submit(fn, *args).result()
        except BrokenProcessPool:
            self.close()
            return self._executor().submit(fn, *args).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class PacedEmbedder(Embedder):
    """The server's own embedder, fed small batches with a pause between them."""

    def __init__(self, inner: Embedder, batch: int, pause_s: float) -> None:
        super().__init__(None, inner.batch_size)
        self.inner = inner
        self._batch = batch
        self._pause_s = pause_s

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def load(self) -> Any:
        return self.inner.load()

    @property
    def loaded(self) -> bool:
        return self.inner.loaded

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.inner.encode(texts)
        parts = []
        for start in range(0, len(texts), self._batch):
            if start:
                time.sleep(self._pause_s)
            parts.append(self.inner.encode(texts[start : start + self._batch]))
        return np.concatenate(parts)


_process_embedders: dict[tuple[Any, ...], ProcessEmbedder] = {}
_process_lock = threading.Lock()


def _process_embedder(served: Embedder, nice: int, chunk_texts: int) -> ProcessEmbedder:
    # One child per process and configuration: every service (tests build many) shares it.
    key = (tuple(sorted(served.options().items())), served.model_id, nice, chunk_texts)
    with _process_lock:
        if key not in _process_embedders:
            _process_embedders[key] = ProcessEmbedder(served, nice, chunk_texts)
        return _process_embedders[key]


def job_embedder(settings: IngestSettings, served: Embedder) -> Embedder:
    """The embedder background jobs write with, per `PMA_INGEST__ISOLATION`; `served` is the model the
    answers use (shared in `thread` mode, loaded again in the child in `process` mode)."""
    if settings.isolation == "process":
        return _process_embedder(served, settings.nice, settings.embed_batch * 8)
    return PacedEmbedder(served, settings.embed_batch, settings.pause_ms / 1000)
