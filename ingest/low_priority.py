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
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any

import numpy as np

from assistant.config import IngestSettings
from assistant.embeddings import Embedder

PARENT_CHECK_S = 1.0

# The child process's own model (set by `_init_child`).
_child_embedder: Embedder | None = None


def _exit_with(parent: int) -> None:
    """Exit once the server that started this child is gone, so a killed server leaves no orphan.
    (Not `PR_SET_PDEATHSIG`: that fires when the *thread* that spawned the child ends, and the spawning
    thread is a job thread, which ends whenever a server stops its job runner.)"""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _init_child(model_path: str | None, batch_size: int, nice: int) -> None:
    """Runs once in the child: die with the parent, load the model, then one torch thread at low
    priority. The model loads before the priority drops: on a busy machine a niced import of torch can
    take minutes, and a job waiting on it would only look stuck."""
    global _child_embedder
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    import torch

    _child_embedder = Embedder(model_path, batch_size)
    _child_embedder.load()
    torch.set_num_threads(1)
    if nice:
        os.nice(nice)


def _encode_in_child(texts: list[str]) -> np.ndarray:
    assert _child_embedder is not None, "the pool initializer did not run"
    return _child_embedder.encode(texts)


class ProcessEmbedder(Embedder):
    """An `Embedder` whose forward passes run in a low-priority child process."""

    def __init__(self, model_path: str | None, batch_size: int, nice: int, chunk_texts: int) -> None:
        super().__init__(model_path, batch_size)
        self._nice = nice
        self._chunk_texts = chunk_texts
        self._model_path = model_path
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_child,
                initargs=(self._model_path, self.batch_size, self._nice),
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

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class PacedEmbedder(Embedder):
    """The server's own embedder, fed small batches with a pause between them."""

    def __init__(self, inner: Embedder, batch: int, pause_s: float) -> None:
        super().__init__(None, inner.batch_size)
        self.inner = inner
        self.model_id = inner.model_id
        self._batch = batch
        self._pause_s = pause_s

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


@lru_cache(maxsize=4)
def _process_embedder(
    model_path: str | None, batch_size: int, nice: int, chunk_texts: int
) -> ProcessEmbedder:
    # One child per process and configuration: every service (tests build many) shares it.
    return ProcessEmbedder(model_path, batch_size, nice, chunk_texts)


def job_embedder(settings: IngestSettings, served: Embedder, model_path: str | None) -> Embedder:
    """The embedder background jobs write with, per `PMA_INGEST__ISOLATION`; `served` is the model the
    answers use (shared in `thread` mode, copied into the child in `process` mode)."""
    if settings.isolation == "process":
        return _process_embedder(model_path, served.batch_size, settings.nice, settings.embed_batch * 8)
    return PacedEmbedder(served, settings.embed_batch, settings.pause_ms / 1000)
