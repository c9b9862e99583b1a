"""Hybrid retrieval: dense chunks (Chroma's index) + BM25 + best sentence, fused by rank, then rescored.

The rescoring stage looks at every sentence of the ~30 fused candidates (their vectors were stored at
ingest, so nothing is embedded here but the query): a passage is only as good as its best sentence for
this question, plus how much of the question's vocabulary it covers. The weights were set by measuring
recall@4 and MRR on tests/eval/questions.jsonl (see README, "How retrieval was tuned").

Sentences are scored for the candidates only, never over the whole store: the third ranking, by best
sentence, covers the ~60 chunks the dense search and BM25 found. It replaced a ranking over every
sentence in the store (a scan of all sentence vectors per question, ~2 GB at 100k chunks) with the same
recall@4 on train (0.988) and dev (0.98) and the same dev figures for the answer policy (accuracy 0.837,
refusal 0.537, false refusals 0.041; without any sentence ranking: 0.837, 0.463, 0.041), so the cost of
a question no longer grows with the store beyond Chroma's own search and BM25.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.config import RetrievalSettings
from assistant.glossary import Glossary
from assistant.index_cache import CachedIndex, IndexCache
from assistant.store import ChunkStore
from assistant.text import terms
from assistant.types import Filters

# Rescoring weights (measured on the evaluation set; see module docstring).
W_SENTENCE = 0.30
W_CHUNK = 0.25
W_COVERAGE = 0.15
W_TITLE = 0.0


@dataclass
class Passage:
    """A retrieved chunk with what the composer needs: its sentences and their similarity to the query."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float
    sentences: list[str] = field(default_factory=list)
    sentence_scores: list[float] = field(default_factory=list)
    residual_scores: list[float] = field(default_factory=list)  # against the residual question
    features: dict[str, float] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()  # stemmed terms of its text, title and section (from the index)

    @property
    def best_sentence_score(self) -> float:
        return max(self.sentence_scores, default=0.0)


@dataclass
class RetrievalResult:
    query: str
    expanded: str
    query_terms: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float]
    index: CachedIndex | None = None


def _where(filters: Filters | None) -> dict[str, Any] | None:
    if filters is None:
        return None
    clauses = [{k: v} for k, v in (("topic", filters.topic), ("source", filters.source)) if v]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class HybridSearch:
    """The retrieval pipeline, independent of LangChain's retriever interface (used by both)."""

    def __init__(
        self,
        store: ChunkStore,
        cache: IndexCache,
        glossary: Glossary,
        settings: RetrievalSettings,
    ) -> None:
        self.store = store
        self.cache = cache
        self.glossary = glossary
        self.settings = settings

    def expand(self, query: str) -> str:
        return self.glossary.expand(query) if self.settings.glossary else query

    def search(self, query: str, filters: Filters | None = None, k: int | None = None) -> RetrievalResult:
        return self.search_many([query], filters, k)[0]

    def search_many(
        self, queries: list[str], filters: Filters | None = None, k: int | None = None
    ) -> list[RetrievalResult]:
        """Several queries (a two-part question and its parts) in one model call: three queries cost
        little more than one. The first result's timings cover the shared work and all searches."""
        t0 = time.perf_counter()
        expanded = [self.expand(q) for q in queries]
        vectors = self.store.embedder.encode_queries(expanded)
        t1 = time.perf_counter()
        index = self.cache.current()
        results = [
            self._search(query, text, vector, index, filters, k or self.settings.top_k)
            for query, text, vector in zip(queries, expanded, vectors, strict=True)
        ]
        self._residuals(queries, results)
        t2 = time.perf_counter()
        rescore = sum(r.timings_ms["rescore"] for r in results)
        results[0].timings_ms = {
            "embed": (t1 - t0) * 1000,
            "search": (t2 - t1) * 1000 - rescore,
            "rescore": rescore,
        }
        return results

    @staticmethod
    def residual_query(query: str, passage: Passage) -> str:
        """The question without the words the top passage's title and section already say: "who mentored
        maggie kowalski" over an interview titled with her name is "who mentored". Empty when nothing is
        left out or nothing but function words would remain."""
        head = set(terms(f"{passage.metadata.get('title', '')} {passage.metadata.get('section', '')}"))
        words = query.split()
        kept = [w for w in words if not (found := set(terms(w))) or not found <= head]
        return " ".join(kept) if len(kept) < len(words) and any(terms(w) for w in kept) else ""

    def _residuals(self, queries: list[str], results: list[RetrievalResult]) -> None:
        """Each passage's sentences scored against the residual question as well (`residual_scores`).

        Why: in a long document about one practice or person, the name the question gives is in
        sentence after sentence, and it dominates the dense similarity; the sentence that answers is
        often the one that speaks of the rest ("Derek Shaw … acted as my mentor"). The residual
        question measures that rest. One more model call for all the queries together, and one
        product with rows already in memory per passage."""
        texts = [
            self.residual_query(q, r.passages[0]) if r.passages else ""
            for q, r in zip(queries, results, strict=True)
        ]
        wanted = list(dict.fromkeys(t for t in texts if t))
        vectors = dict(zip(wanted, self.store.embedder.encode_queries(wanted), strict=True)) if wanted else {}
        for text, result in zip(texts, results, strict=True):
            index = result.index
            for p in result.passages:
                if text and index is not None:
                    vector = np.asarray(vectors[text], dtype=np.float32)
                    p.residual_scores = [float(x) for x in index.sentence_rows(index.position[p.id]) @ vector]
                else:
                    p.residual_scores = list(p.sentence_scores)

    def _search(
        self,
        query: str,
        expanded: str,
        vector: np.ndarray,
        index: CachedIndex,
        filters: Filters | None,
        k: int,
    ) -> RetrievalResult:
        n = self.settings.candidates
        dense = self.store.dense_chunks(vector, n, _where(filters))
        bm25 = index.scores(expanded)
        if filters is not None and (filters.topic or filters.source):
            bm25 = np.where(index.mask(filters.topic, filters.source), bm25, 0.0)
        t2 = time.perf_counter()

        rankings = [
            [cid for cid, _ in dense],
            [index.ids[i] for i in np.argsort(-bm25)[:n] if bm25[i] > 0],
        ]
        # The pool the two found, ranked again by each chunk's best sentence: the sentence-level view
        # of the whole-store scan this replaces, at the cost of ~60 chunks' rows.
        pool = [c for c in dict.fromkeys(rankings[0] + rankings[1]) if c in index.position]
        best = [
            float(rows.max()) if len(rows := index.sentence_rows(index.position[c]) @ vector) else -1.0
            for c in pool
        ]
        rankings.append([pool[i] for i in np.argsort(-np.asarray(best), kind="stable") if best[i] > -1.0])
        fused: dict[str, float] = defaultdict(float)
        for ranking in rankings:
            for rank, cid in enumerate(ranking):
                fused[cid] += 1.0 / (self.settings.rrf_k + rank + 1)
        candidates = [c for c in sorted(fused, key=lambda c: -fused[c]) if c in index.position][:n]
        passages = self._rescore(candidates, expanded, vector, index, dict(dense), fused, bm25)
        timings = {"rescore": (time.perf_counter() - t2) * 1000}
        return RetrievalResult(query, expanded, terms(expanded), passages[:k], timings, index)

    def _rescore(
        self,
        candidates: list[str],
        expanded: str,
        vector: np.ndarray,
        index: CachedIndex,
        dense: dict[str, float],
        fused: dict[str, float],
        bm25: np.ndarray,
    ) -> list[Passage]:
        if not candidates:
            return []
        query_terms = set(terms(expanded))
        top_fused = max(fused[c] for c in candidates)
        query = np.asarray(vector, dtype=np.float32)
        passages = []
        for cid in candidates:
            pos = index.position[cid]
            chunk = index.chunk(pos)
            sims = [float(x) for x in index.sentence_rows(pos) @ query]
            chunk_sim = dense.get(cid, max(sims, default=0.0))
            chunk_terms = chunk.body_terms | chunk.head_terms
            coverage = len(query_terms & chunk_terms) / len(query_terms) if query_terms else 0.0
            title = len(query_terms & chunk.head_terms) / len(query_terms) if query_terms else 0.0
            best = max(sims, default=0.0)
            score = W_SENTENCE * best + W_CHUNK * chunk_sim + W_COVERAGE * coverage + W_TITLE * title
            passages.append(
                Passage(
                    id=cid,
                    text=chunk.text,
                    metadata=dict(chunk.metadata),
                    score=score,
                    sentences=list(chunk.sentences),
                    sentence_scores=sims,
                    terms=chunk_terms,
                    features={
                        "sentence": best,
                        "chunk": chunk_sim,
                        "coverage": coverage,
                        "title": title,
                        "bm25": float(bm25[pos]),
                        "fused": fused[cid] / top_fused,
                    },
                )
            )
        passages.sort(key=lambda p: -p.score)
        return passages


class HybridRetriever(BaseRetriever):
    """LangChain face of `HybridSearch`, for use in chains (e.g. an LLM composer)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch
    filters: Filters | None = None
    k: int = 6

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,  # noqa: ARG002
        k: int | None = None,
    ) -> list[Document]:
        """`k` passed at call time (`invoke(q, k=1)`) wins over the constructor's, as LangChain expects."""
        result = self.search.search(query, self.filters, k or self.k)
        return [
            Document(id=p.id, page_content=p.text, metadata={**p.metadata, "score": p.score})
            for p in result.passages
        ]
