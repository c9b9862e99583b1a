"""Indexes derived from the store, kept on disk beside it: BM25 over chunks, the sentence vectors, and
the chunk and sentence texts.

They are caches of the store's contents keyed by the store's generation marker: any process (API
worker, CLI, Slack) that sees a new generation reloads them from the data dir, or rebuilds them from
Chroma when no process has yet, so several processes, or a Chroma server shared by many, always agree on
what is searched.

Nothing here grows with the store in a process's own memory. The sentence vectors are a memory-mapped
`.npy` file, BM25 is loaded memory-mapped, and texts, sentences and metadata live in an SQLite file read
per candidate: every worker on a machine shares one copy through the page cache, and a question touches
only the rows of its ~30 candidates. In memory stay the chunk ids and what filters and the answer policy
need for every chunk (source, topic, title): tens of bytes a chunk. Retrieval reads a candidate's
sentence vectors with one slice of the mapped matrix (`sentence_vectors[start:end]`), which is why
sentences are stored contiguously per chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

import bm25s
import numpy as np

from assistant.store import ChunkStore, StoredChunks, changes_here
from assistant.text import terms

# How many chunks' texts, sentences and terms a process keeps decoded (an LRU): the working set of a
# few hundred questions, a few MB whatever the store's size.
CHUNK_CACHE = 4096
FORMAT = 2  # bumped when the files' layout changes, so an old cache is rebuilt rather than misread


@dataclass(frozen=True)
class Chunk:
    """One chunk as retrieval and composition read it."""

    text: str
    metadata: dict[str, Any]
    sentences: list[str]
    body_terms: frozenset[str]  # stemmed terms of its text
    head_terms: frozenset[str]  # ... and of its title and section


class _Rows:
    """Read-only access to the cache's SQLite file, shared by the threads of one process."""

    def __init__(self, path: Path) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"  # written once, never changed in place
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()


@dataclass
class CachedIndex:
    generation: str
    ids: list[str]
    sources: list[str]  # per chunk
    topics: list[str]  # per chunk ("" when none)
    titles: dict[str, str]  # source -> title
    bm25: bm25s.BM25 | None
    sentence_vectors: np.ndarray  # (S, dim), normalised, memory-mapped; a chunk's rows are contiguous
    spans: np.ndarray  # (chunks, 2): [start, end) rows of each chunk's sentences
    rows: _Rows | None = None
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.position:
            self.position = {i: n for n, i in enumerate(self.ids)}
        self.chunk: Callable[[int], Chunk] = lru_cache(maxsize=CHUNK_CACHE)(self._read_chunk)

    def __len__(self) -> int:
        return len(self.ids)

    # --- per chunk, from disk ---------------------------------------------------------------------
    def _read_chunk(self, pos: int) -> Chunk:
        if self.rows is None:
            raise IndexError(pos)
        text, metadata = self.rows.query("SELECT text, metadata FROM chunk WHERE pos = ?", (pos,))[0]
        start, end = (int(x) for x in self.spans[pos])
        sentences = [
            r[0]
            for r in self.rows.query(
                "SELECT text FROM sentence WHERE row >= ? AND row < ? ORDER BY row", (start, end)
            )
        ]
        meta = json.loads(metadata)
        head = frozenset(terms(f"{meta.get('title', '')} {meta.get('section', '')}"))
        return Chunk(text, meta, sentences, frozenset(terms(text)), head)

    def chunks(self, positions: list[int]) -> list[Chunk]:
        return [self.chunk(p) for p in positions]

    def sentence_rows(self, pos: int) -> np.ndarray:
        """The chunk's sentence vectors: a slice of the mapped matrix, nothing copied."""
        start, end = (int(x) for x in self.spans[pos])
        rows: np.ndarray = self.sentence_vectors[start:end]
        return rows

    def positions_of(self, source: str) -> list[int]:
        return np.flatnonzero(self._codes("sources") == self._code("sources", source)).tolist()

    def mask(self, topic: str | None = None, source: str | None = None) -> np.ndarray:
        """Chunks a topic / source filter lets through (one integer comparison per chunk)."""
        keep = np.ones(len(self.ids), dtype=bool)
        if topic:
            keep &= self._codes("topics") == self._code("topics", topic)
        if source:
            keep &= self._codes("sources") == self._code("sources", source)
        return keep

    @cached_property
    def _categories(self) -> dict[str, tuple[dict[str, int], np.ndarray]]:
        """Per-chunk sources and topics as small integer codes, so filters are vector comparisons."""
        out = {}
        for name in ("sources", "topics"):
            values = getattr(self, name)
            names = {v: n for n, v in enumerate(dict.fromkeys(values))}
            out[name] = (names, np.asarray([names[v] for v in values], dtype=np.int32))
        return out

    def _codes(self, name: str) -> np.ndarray:
        return self._categories[name][1]

    def _code(self, name: str, value: str) -> int:
        return self._categories[name][0].get(value, -1)

    @property
    def metadatas(self) -> list[dict[str, Any]]:
        """Every chunk's metadata, read from disk: for the maintainers' pages, not the answer path."""
        if self.rows is None:
            return []
        return [json.loads(m) for (m,) in self.rows.query("SELECT metadata FROM chunk ORDER BY pos")]

    # --- term statistics --------------------------------------------------------------------------
    @cached_property
    def _df(self) -> tuple[dict[str, int], np.ndarray]:
        """Document frequency of each term, read off BM25's own index (its matrix has one nonzero per
        chunk holding the term), so no per-chunk term sets are kept for it."""
        if self.bm25 is None:
            return {}, np.zeros(0, dtype=np.int64)
        indptr = np.asarray(self.bm25.scores["indptr"])
        return self.bm25.vocab_dict, np.diff(indptr)

    @cached_property
    def idf(self) -> Mapping[str, float]:
        """The IDF of every term some chunk holds, as a read-only mapping computed on lookup."""
        return _Idf(self)

    def idf_of(self, term: str) -> float:
        """Inverse document frequency over chunks (BM25's form), so that overlap with a rare term
        ("fundholding") counts for more than with one in every chunk ("practice"). A term no chunk holds
        is as rare as can be."""
        vocab, df = self._df
        n = len(self.ids)
        token = vocab.get(term)
        if token is None or token >= len(df) or df[token] == 0:
            return float(np.log(n + 1.5))
        d = int(df[token])
        return float(np.log((n - d + 0.5) / (d + 0.5) + 1.0))

    def scores(self, query: str) -> np.ndarray:
        tokens = terms(query)
        if self.bm25 is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self.bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


class _Idf(Mapping[str, float]):
    """`CachedIndex.idf`: terms BM25 knows, each IDF computed when asked (no dict of the vocabulary)."""

    def __init__(self, index: CachedIndex) -> None:
        self._index = index

    def __getitem__(self, term: str) -> float:
        vocab, df = self._index._df
        token = vocab.get(term)
        if token is None or token >= len(df) or df[token] == 0:
            raise KeyError(term)
        return self._index.idf_of(term)

    def __contains__(self, term: object) -> bool:
        vocab, df = self._index._df
        token = vocab.get(term) if isinstance(term, str) else None
        return token is not None and token < len(df) and bool(df[token])

    def __iter__(self) -> Iterator[str]:
        return (t for t in self._index._df[0] if t in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# --- building the files from Chroma ---------------------------------------------------------------


class Contents(Protocol):
    """What the cache is written from: a `ChunkStore` (or anything shaped like one)."""

    def all_chunks(self) -> StoredChunks: ...
    def sentence_count(self) -> int: ...
    def sentence_pages(self) -> Iterator[tuple[list[str], list[int], list[str], np.ndarray]]: ...


def _write(store: Contents, generation: str, directory: Path) -> None:
    """Write the cache for the store's current contents into `directory` (a fresh folder).

    Page by page, so peak memory is one page of Chroma's rows plus the sentence texts, never a Python
    list per vector: vectors go to a scratch file in arrival order, then into the final file in chunk
    order."""
    stored = store.all_chunks()
    position = {i: n for n, i in enumerate(stored.ids)}
    total = store.sentence_count()
    dim = 0
    scratch: np.ndarray | None = None
    owners: list[int] = []
    numbers_in: list[int] = []
    texts: list[str] = []
    filled = 0
    for chunk_ids, numbers, sentences, vectors in store.sentence_pages():
        if scratch is None:
            dim = vectors.shape[1]
            scratch = np.lib.format.open_memmap(
                directory / "scratch.npy", mode="w+", dtype=np.float32, shape=(max(total, 1), dim)
            )
        for cid, i, text, vector in zip(chunk_ids, numbers, sentences, vectors, strict=True):
            pos = position.get(cid)
            if pos is None or filled >= len(scratch):  # an orphan sentence, or rows added meanwhile
                continue
            scratch[filled] = vector
            owners.append(pos)
            numbers_in.append(i)
            texts.append(text)
            filled += 1
    arrived = np.asarray(owners, dtype=np.int64)
    order = np.lexsort((np.asarray(numbers_in, dtype=np.int64), arrived))
    vectors_out = np.lib.format.open_memmap(
        directory / "sentence_vectors.npy", mode="w+", dtype=np.float32, shape=(filled, dim or 384)
    )
    for start in range(0, filled, 65536):
        block = order[start : start + 65536]
        assert scratch is not None
        vectors_out[start : start + len(block)] = scratch[block]
    vectors_out.flush()
    del vectors_out, scratch
    (directory / "scratch.npy").unlink(missing_ok=True)
    owner = arrived[order]
    n_chunks = len(stored.ids)
    spans = np.stack(
        [
            np.searchsorted(owner, np.arange(n_chunks), side="left"),
            np.searchsorted(owner, np.arange(n_chunks), side="right"),
        ],
        axis=1,
    ).astype(np.int64)
    np.save(directory / "spans.npy", spans.reshape(n_chunks, 2))

    db = sqlite3.connect(directory / "chunks.sqlite3")
    db.executescript(
        "CREATE TABLE chunk (pos INTEGER PRIMARY KEY, id TEXT, source TEXT, topic TEXT, title TEXT,"
        " text TEXT, metadata TEXT);"
        "CREATE TABLE sentence (row INTEGER PRIMARY KEY, text TEXT);"
    )
    db.executemany(
        "INSERT INTO chunk VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                n,
                cid,
                str(m.get("source", "")),
                str(m.get("topic") or ""),
                str(m.get("title", "")),
                text,
                json.dumps(m),
            )
            for n, (cid, text, m) in enumerate(zip(stored.ids, stored.texts, stored.metadatas, strict=True))
        ),
    )
    db.executemany(
        "INSERT INTO sentence VALUES (?, ?)", ((row, texts[n]) for row, n in enumerate(order.tolist()))
    )
    db.commit()
    db.close()

    corpus = [
        terms(f"{m.get('title', '')} {m.get('section', '')} {t}")
        for t, m in zip(stored.texts, stored.metadatas, strict=True)
    ]
    has_bm25 = bool(corpus) and any(corpus)
    if has_bm25:
        bm25 = bm25s.BM25()
        bm25.index([c or ["_"] for c in corpus], show_progress=False)
        bm25.save(str(directory / "bm25"))
    meta = {"format": FORMAT, "generation": generation, "has_bm25": has_bm25, "chunks": n_chunks}
    (directory / "index.json").write_text(json.dumps(meta), encoding="utf-8")


def _open(directory: Path, generation: str) -> CachedIndex | None:
    try:
        meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta["generation"] != generation:
            return None
        bm25 = (
            bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
            if meta["has_bm25"]
            else None
        )
        vectors = np.load(directory / "sentence_vectors.npy", mmap_mode="r")
        spans = np.load(directory / "spans.npy")
        rows = _Rows(directory / "chunks.sqlite3")
        listed = rows.query("SELECT id, source, topic, title FROM chunk ORDER BY pos")
    except (OSError, ValueError, KeyError, sqlite3.Error):
        return None
    titles: dict[str, str] = {}
    for _, source, _, title in listed:
        titles.setdefault(source, title)
    # One string object per distinct source and topic, not one per chunk (100k chunks: ~15 MB less).
    shared: dict[str, str] = {}
    return CachedIndex(
        generation,
        [r[0] for r in listed],
        [shared.setdefault(r[1], r[1]) for r in listed],
        [shared.setdefault(r[2], r[2]) for r in listed],
        titles,
        bm25,
        vectors,
        spans.reshape(-1, 2),
        rows,
    )


def generation_folder(generation: str) -> str:
    """The folder, under the cache directory, that holds one generation's files."""
    return "g-" + hashlib.sha1(generation.encode()).hexdigest()[:16]


class IndexCache:
    """Holds the current `CachedIndex`, refreshing it when the store's generation moves.

    Each generation's files live in their own folder under `directory` (`g-<hash of the generation>`),
    written in a temporary folder and renamed into place, so a reader never sees half an index and two
    processes building the same generation at once both end up reading one complete copy. Older
    folders are removed once a newer one is in place; a process still reading one keeps its files open
    (and mapped) until it moves on.

    The generation is read from the store at most once every `check_s` seconds (it is a round trip to
    Chroma, a network one when Chroma is a server), so a change made by another process is seen within
    that time. A change made by this process (`ChunkStore.bump_generation`) is seen at once."""

    def __init__(self, store: ChunkStore, directory: Path, check_s: float = 1.0) -> None:
        self.store = store
        self.directory = directory
        self.check_s = check_s
        self._index: CachedIndex | None = None
        self._checked_at = float("-inf")
        self._seen_changes = -1
        self._lock = threading.Lock()

    def current(self) -> CachedIndex:
        index = self._index
        changes = changes_here()
        if (
            index is not None
            and changes == self._seen_changes
            and time.monotonic() - self._checked_at < self.check_s
        ):
            return index
        generation = self.store.generation()
        if index is None or index.generation != generation:
            with self._lock:
                if self._index is None or self._index.generation != generation:
                    self._index = self._load(generation)
                index = self._index
        self._checked_at, self._seen_changes = time.monotonic(), changes
        return index

    def _load(self, generation: str) -> CachedIndex:
        folder = self.directory / generation_folder(generation)
        index = _open(folder, generation)
        if index is not None:
            return index
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=self.directory))
        try:
            _write(self.store, generation, tmp)
            # Losing the race (another process put this generation in place first) is fine: its copy
            # is as good.
            with contextlib.suppress(OSError):
                tmp.rename(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        index = _open(folder, generation)
        if index is None:
            raise RuntimeError(f"the index cache in {folder} could not be read back")
        for old in self.directory.glob("g-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
        return index
