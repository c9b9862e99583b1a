"""In-memory indexes derived from the store: BM25 over chunks, and the matrix of sentence vectors.

Both are caches of the store's contents keyed by the store's generation marker: any process (API worker,
CLI, Slack) that sees a new generation reloads them from the data dir or rebuilds them from Chroma, so
several processes, or a Chroma server shared by many, always agree on what is searched. Sentence vectors
live in memory because rescoring reads every sentence of ~30 candidates per question: a numpy product
takes microseconds where a Chroma `get` of the same vectors took hundreds of milliseconds.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from assistant.store import ChunkStore
from assistant.text import terms, tokens


@dataclass
class CachedIndex:
    generation: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    bm25: bm25s.BM25 | None
    position: dict[str, int]
    sentences: list[str]
    sentence_vectors: np.ndarray  # (S, dim), normalised
    sentence_owner: np.ndarray  # (S,) position of the owning chunk
    spans: list[tuple[int, int]]  # per chunk: [start, end) rows of its sentences
    vocabulary: frozenset[str]
    # Per chunk: stemmed terms of its body and of its title + section (rescoring reads them per query).
    body_terms: list[frozenset[str]] = field(default_factory=list)
    head_terms: list[frozenset[str]] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # source -> title

    def __post_init__(self) -> None:
        if not self.body_terms:
            self.body_terms = [frozenset(terms(t)) for t in self.texts]
            self.head_terms = [
                frozenset(terms(f"{m.get('title', '')} {m.get('section', '')}")) for m in self.metadatas
            ]
            self.titles = {str(m.get("source")): str(m.get("title")) for m in self.metadatas}

    def sentence_similarities(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarity of every stored sentence to each query vector: (queries, sentences).

        One matrix product, queries x sentences, in numpy: importing torch for it would cost a serving
        process (and every CLI run) tens of seconds at start for a product numpy does as fast."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if not len(self.sentences):
            return np.zeros((len(queries), 0), dtype=np.float32)
        product: np.ndarray = queries @ self.sentence_vectors.T
        return product

    def best_per_chunk(self, sentence_sims: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence similarity (-1 for a chunk without sentences). A chunk's sentences
        are contiguous rows, so this is one segmented max (`reduceat`), not a scatter (`maximum.at`)."""
        best = np.full(len(self.ids), -1.0, dtype=np.float32)
        if not len(sentence_sims):
            return best
        owners, starts = self._segments
        best[owners] = np.maximum.reduceat(sentence_sims, starts)
        return best

    @cached_property
    def idf(self) -> dict[str, float]:
        """Inverse document frequency of each term over chunks (BM25's form), so that overlap with a rare
        term ("fundholding") counts for more than with one in every chunk ("practice")."""
        df: dict[str, int] = {}
        for body, head in zip(self.body_terms, self.head_terms, strict=True):
            for term in body | head:
                df[term] = df.get(term, 0) + 1
        n = len(self.ids)
        return {t: float(np.log((n - d + 0.5) / (d + 0.5) + 1.0)) for t, d in df.items()}

    def idf_of(self, term: str) -> float:
        """A term no chunk holds is as rare as can be."""
        return self.idf.get(term, float(np.log(len(self.ids) + 1.5)))

    @cached_property
    def _segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Chunks that have sentences, and the first row of each one's sentences."""
        spans = np.asarray(self.spans, dtype=np.intp).reshape(-1, 2)
        owners = np.flatnonzero(spans[:, 1] > spans[:, 0])
        return owners, spans[owners, 0]

    def scores(self, query: str) -> np.ndarray:
        tokens = terms(query)
        if self.bm25 is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self.bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


def _spans(owner: np.ndarray, n_chunks: int) -> list[tuple[int, int]]:
    starts = np.searchsorted(owner, np.arange(n_chunks), side="left")
    ends = np.searchsorted(owner, np.arange(n_chunks), side="right")
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _vocabulary(texts: list[str], metadatas: list[dict[str, Any]]) -> frozenset[str]:
    words: set[str] = set()
    for text, meta in zip(texts, metadatas, strict=True):
        words.update(tokens(f"{meta.get('title', '')} {text}"))
    return frozenset(words)


def _build(store: ChunkStore, generation: str) -> CachedIndex:
    stored = store.all_chunks()
    position = {i: n for n, i in enumerate(stored.ids)}
    rows = store.sentence_rows()
    rows = [r for r in rows if r[0] in position]
    rows.sort(key=lambda r: (position[r[0]], r[1]))
    dim = len(rows[0][3]) if rows else 384
    vectors = np.asarray([r[3] for r in rows], dtype=np.float32).reshape(len(rows), dim)
    owner = np.asarray([position[r[0]] for r in rows], dtype=np.int64)
    corpus = [
        terms(f"{m.get('title', '')} {m.get('section', '')} {t}")
        for t, m in zip(stored.texts, stored.metadatas, strict=True)
    ]
    bm25 = None
    if corpus and any(corpus):
        bm25 = bm25s.BM25()
        bm25.index([c or ["_"] for c in corpus], show_progress=False)
    return CachedIndex(
        generation,
        stored.ids,
        stored.texts,
        stored.metadatas,
        bm25,
        position,
        [r[2] for r in rows],
        vectors,
        owner,
        _spans(owner, len(stored.ids)),
        _vocabulary(stored.texts, stored.metadatas),
    )


class IndexCache:
    """Holds the current `CachedIndex`, refreshing it when the store's generation moves."""

    def __init__(self, store: ChunkStore, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self._index: CachedIndex | None = None
        self._lock = threading.Lock()

    def current(self) -> CachedIndex:
        generation = self.store.generation()
        index = self._index
        if index is not None and index.generation == generation:
            return index
        with self._lock:
            if self._index is None or self._index.generation != generation:
                self._index = self._load(generation) or self._save(_build(self.store, generation))
            return self._index

    def _load(self, generation: str) -> CachedIndex | None:
        meta = self.directory / "chunks.json"
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            if data["generation"] != generation:
                return None
            bm25 = bm25s.BM25.load(str(self.directory / "bm25")) if data["has_bm25"] else None
            vectors = np.load(self.directory / "sentence_vectors.npy")
            owner = np.load(self.directory / "sentence_owner.npy")
        except (OSError, ValueError, KeyError):
            return None
        ids = data["ids"]
        return CachedIndex(
            generation,
            ids,
            data["texts"],
            data["metadatas"],
            bm25,
            {i: n for n, i in enumerate(ids)},
            data["sentences"],
            vectors,
            owner,
            _spans(owner, len(ids)),
            _vocabulary(data["texts"], data["metadatas"]),
        )

    def _save(self, index: CachedIndex) -> CachedIndex:
        # Write to a temporary folder and swap it in, so a reader never sees half an index.
        tmp = self.directory.with_name(self.directory.name + f".tmp{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if index.bm25 is not None:
            index.bm25.save(str(tmp / "bm25"))
        payload = {
            "generation": index.generation,
            "has_bm25": index.bm25 is not None,
            "ids": index.ids,
            "texts": index.texts,
            "metadatas": index.metadatas,
            "sentences": index.sentences,
        }
        np.save(tmp / "sentence_vectors.npy", index.sentence_vectors)
        np.save(tmp / "sentence_owner.npy", index.sentence_owner)
        (tmp / "chunks.json").write_text(json.dumps(payload), encoding="utf-8")
        try:
            old = self.directory.with_name(self.directory.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.directory.exists():
                self.directory.rename(old)
            tmp.rename(self.directory)
            shutil.rmtree(old, ignore_errors=True)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race; its copy is as good
        return index
