"""The one place that opens Chroma.

Two collections per embedding model: `chunks` (what LangChain's indexing API manages and what retrieval
returns) and `sentences` (one vector per sentence of every chunk, embedded as written). A chunk's vector is
the mean of its sentence vectors plus the vector of its title and heading, so each sentence is embedded
exactly once, nothing past the model's 256-token window is lost, and the composer can rank sentences
without embedding them at query time. Sentences are embedded without their title: measured on the
evaluation set, a title prefix compresses the similarities of a note's sentences and put the answering
sentence first 55% of the time, against 70% without it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.text import split_sentences, with_context

_GET_PAGE = 2000
_changes_here = 0  # generations this process has moved (any ChunkStore): readers recheck at once


def changes_here() -> int:
    """How many times this process changed a store's contents: a reader caching the generation knows
    its own process's writes without asking Chroma."""
    return _changes_here


def open_client(settings: Settings) -> ClientAPI:
    """Embedded store under the data dir, or a Chroma server when `PMA_CHROMA__HOST` is set."""
    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma.host:
        return chromadb.HttpClient(
            host=settings.chroma.host,
            port=settings.chroma.port,
            ssl=settings.chroma.ssl,
            settings=chroma_settings,
        )
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def collection_base(prefix: str, model_id: str) -> str:
    """Names carry the model id, so a model change builds fresh collections instead of mixing vectors."""
    slug = re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")
    return f"{prefix}_{slug}"


HEADER_WEIGHT = 0.5


def header_text(metadata: dict[str, Any]) -> str:
    """What a chunk is about, from its title and nearest heading: gives a chunk's vector its context."""
    title = str(metadata.get("title") or "")
    heading = str(metadata.get("section") or "").split(" > ")[-1]
    return title if not heading or heading == title else f"{title} — {heading}"


@dataclass(frozen=True)
class StoredChunks:
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]


class ChunkStore(VectorStore):
    """A LangChain vector store over the two collections (so `index()` can manage it)."""

    def __init__(self, client: ClientAPI, embedder: Embedder, prefix: str = "pma") -> None:
        self.client = client
        self.embedder = embedder
        base = collection_base(prefix, embedder.model_id)
        config: Any = {"hnsw": {"space": "cosine"}}
        self.chunks: Collection = client.get_or_create_collection(
            f"{base}_chunks", embedding_function=None, configuration=config
        )
        self.sentences: Collection = client.get_or_create_collection(
            f"{base}_sentences", embedding_function=None, configuration=config
        )

    # --- LangChain VectorStore interface -------------------------------------------------------
    @property
    def embeddings(self) -> Embedder:
        return self.embedder

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids: list[str] = list(kwargs.get("ids") or [d.id or str(uuid.uuid4()) for d in documents])
        if not documents:
            return []
        sentence_ids: list[str] = []
        sentence_texts: list[str] = []
        sentence_meta: list[Any] = []  # chroma's Metadata mapping type
        owners: list[int] = []
        embed_texts: list[str] = []
        # Sentence splitting is CPU-bound Python: it runs where the model runs (`Embedder.run`).
        split = self.embedder.run(split_each, [d.page_content for d in documents])
        for n, (chunk_id, doc, sentences) in enumerate(zip(ids, documents, split, strict=True)):
            embed_texts.extend(with_context(sentences))
            for i, sentence in enumerate(sentences):
                sentence_ids.append(f"{chunk_id}:{i}")
                sentence_texts.append(sentence)
                sentence_meta.append(
                    {
                        "chunk_id": chunk_id,
                        "i": i,
                        "source": doc.metadata.get("source", ""),
                        "topic": doc.metadata.get("topic", ""),
                    }
                )
                owners.append(n)
        headers = [header_text(d.metadata) for d in documents]
        encoded = self.embedder.encode(embed_texts + headers)
        vectors, header_vectors = encoded[: len(sentence_texts)], encoded[len(sentence_texts) :]
        chunk_vectors = np.zeros((len(documents), encoded.shape[1]), dtype=np.float32)
        np.add.at(chunk_vectors, np.asarray(owners, dtype=np.int64), vectors)
        chunk_vectors = _normalise(_normalise(chunk_vectors) + HEADER_WEIGHT * header_vectors)
        # Sentences first, chunks second, record manager last (in `index`): a crash leaves at worst
        # orphan sentences or unrecorded chunks, which `reconcile` removes.
        self._delete_sentences(ids)
        for start in range(0, len(sentence_ids), _GET_PAGE):
            end = start + _GET_PAGE
            self.sentences.upsert(
                ids=sentence_ids[start:end],
                embeddings=vectors[start:end],
                documents=sentence_texts[start:end],
                metadatas=sentence_meta[start:end],
            )
        self.chunks.upsert(
            ids=ids,
            embeddings=chunk_vectors,
            documents=[d.page_content for d in documents],
            metadatas=[_clean_metadata(d.metadata) for d in documents],
        )
        return ids

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Stored chunks by id, in the order asked; ids not stored are left out (never an error)."""
        if not ids:
            return []
        found = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: Document(id=i, page_content=d or "", metadata=dict(m or {}))
            for i, d, m in zip(found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, **kwargs: Any
    ) -> list[str]:
        texts = list(texts)
        metas = metadatas or [{} for _ in texts]
        docs = [Document(page_content=t, metadata=m) for t, m in zip(texts, metas, strict=True)]
        return self.add_documents(docs, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:  # noqa: ARG002
        if not ids:
            return True
        self._delete_sentences(ids)
        for start in range(0, len(ids), _GET_PAGE):
            self.chunks.delete(ids=ids[start : start + _GET_PAGE])
        return True

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        hits = self.dense_chunks(self.embedder.encode_queries([query])[0], k, kwargs.get("filter"))
        if not hits:  # an empty store: Chroma refuses `get(ids=[])`
            return []
        found = self.chunks.get(ids=[h[0] for h in hits], include=["documents", "metadatas"])
        by_id = {
            i: Document(id=i, page_content=d or "", metadata=dict(m or {}))
            for i, d, m in zip(found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True)
        }
        return [by_id[h[0]] for h in hits if h[0] in by_id]

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Any, metadatas: list[dict] | None = None, **kwargs: Any
    ) -> ChunkStore:
        raise NotImplementedError("open a ChunkStore with open_store(settings) instead")

    # --- what retrieval and maintenance need -----------------------------------------------------
    def _delete_sentences(self, chunk_ids: Sequence[str]) -> None:
        for start in range(0, len(chunk_ids), 500):
            where: Any = {"chunk_id": {"$in": list(chunk_ids[start : start + 500])}}
            self.sentences.delete(where=where)

    def dense_chunks(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        return self._query(self.chunks, vector, k, where)

    def dense_sentences(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(sentence id `<chunk id>:<i>`, cosine similarity), best first."""
        return self._query(self.sentences, vector, k, where)

    @staticmethod
    def _query(
        collection: Collection, vector: np.ndarray, k: int, where: dict[str, Any] | None
    ) -> list[tuple[str, float]]:
        count = collection.count()
        if count == 0:
            return []
        result = collection.query(
            query_embeddings=[vector.tolist()], n_results=min(k, count), where=where, include=["distances"]
        )
        distances = (result.get("distances") or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances, strict=True)]

    def chunk_ids(self) -> set[str]:
        return set(self._paged(self.chunks, include=[]).ids)

    def sentence_owner_ids(self) -> dict[str, str]:
        """Sentence id -> chunk id, for reconciling orphans."""
        got = self._paged(self.sentences, include=["metadatas"])
        return {i: str(m.get("chunk_id")) for i, m in zip(got.ids, got.metadatas, strict=True)}

    def sentence_pages(self) -> Iterator[tuple[list[str], list[int], list[str], np.ndarray]]:
        """Every stored sentence, a page at a time: (chunk ids, sentence numbers, texts, vectors). Paged
        into numpy so a store of a million sentences never becomes a million Python lists of floats."""
        offset = 0
        while True:
            page = self.sentences.get(
                include=["documents", "metadatas", "embeddings"], limit=_GET_PAGE, offset=offset
            )
            metas = page["metadatas"] or []
            embeddings = page.get("embeddings")
            vectors = np.asarray(embeddings if embeddings is not None else [], dtype=np.float32)
            if metas:
                yield (
                    [str(m["chunk_id"]) for m in metas],
                    [int(str(m["i"])) for m in metas],
                    [t or "" for t in page["documents"] or []],
                    vectors.reshape(len(metas), -1),
                )
            if len(page["ids"]) < _GET_PAGE:
                return
            offset += _GET_PAGE

    def sentence_count(self) -> int:
        return self.sentences.count()

    def all_chunks(self) -> StoredChunks:
        return self._paged(self.chunks, include=["documents", "metadatas"])

    def delete_sentence_ids(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _GET_PAGE):
            self.sentences.delete(ids=list(ids[start : start + _GET_PAGE]))

    @staticmethod
    def _paged(collection: Collection, include: list[Any]) -> StoredChunks:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = collection.get(include=include, limit=_GET_PAGE, offset=offset)
            ids.extend(page["ids"])
            texts.extend(page.get("documents") or [""] * len(page["ids"]))
            metas.extend(dict(m or {}) for m in (page.get("metadatas") or [{}] * len(page["ids"])))
            if len(page["ids"]) < _GET_PAGE:
                return StoredChunks(ids, texts, metas)
            offset += _GET_PAGE

    # --- change marker shared by every process reading this store --------------------------------
    def generation(self) -> str:
        """Changes whenever the chunk set changes; derived indexes (BM25) rebuild when it moves. It
        names the collection too, so a data dir's cache built for one model or backend is never read
        for another (two untouched collections would both be at "0")."""
        meta = self.client.get_collection(self.chunks.name).metadata or {}
        return f"{self.chunks.name}/{meta.get('generation', '0')}"

    def bump_generation(self) -> None:
        global _changes_here
        self.chunks.modify(metadata={"generation": uuid.uuid4().hex})
        _changes_here += 1

    def ping(self) -> bool:
        try:
            self.client.heartbeat()
            return True
        except Exception:
            return False


def split_each(texts: list[str]) -> list[list[str]]:
    """Each text's sentences (module-level, so a child process can run it)."""
    return [split_sentences(t) for t in texts]


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Chroma stores only scalars and no None."""
    return {k: v for k, v in metadata.items() if isinstance(v, str | int | float | bool)}


def store_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or anything in its cause chain) means a Chroma server could not be reached, so
    front doors can say "unavailable, try again" (503) instead of "we broke" (500)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError | ConnectionError):
            return True
        if "could not connect to a chroma server" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def open_store(settings: Settings, embedder: Embedder) -> ChunkStore:
    return ChunkStore(open_client(settings), embedder, settings.chroma.collection_prefix)
