"""LangChain's own standard test suites, run against our retriever and vector store.

`RetrieversIntegrationTests` exercises `HybridRetriever` (the retriever the language model chain uses)
over a small real corpus; `VectorStoreIntegrationTests` exercises `ChunkStore` over a fresh embedded
Chroma per test, with the real packaged model (the suite's fake embeddings are not used: `ChunkStore`
embeds with its own model, sentence by sentence, which is the behaviour worth testing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

from assistant.embeddings import Embedder
from assistant.retrieval import HybridRetriever
from assistant.store import ChunkStore

DOCS = [
    (
        f"handbook/policy-{i}.md",
        f"---\ntitle: Oakridge policy {i}\ntopic: workforce\npublished: 2024-0{i}-01\n---\n"
        f"The Oakridge policy {i} says reception rotas change every {i + 1} weeks. "
        f"Oakridge staff read policy {i} at induction.\n",
    )
    for i in range(1, 6)
]


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    search: Any = None

    @pytest.fixture(autouse=True)
    def _service(self, service_factory: Any) -> None:
        if type(self).search is None:
            type(self).search = service_factory(DOCS).search

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"search": type(self).search}

    @property
    def retriever_query_example(self) -> str:
        return "How often do Oakridge reception rotas change?"


class TestChunkStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path, embedder: Embedder) -> Iterator[VectorStore]:  # type: ignore[override]
        client = chromadb.PersistentClient(
            path=str(tmp_path / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        store = ChunkStore(client, embedder, prefix="standard")
        try:
            yield store
        finally:
            store.delete(store.chunk_ids() and sorted(store.chunk_ids()))
