"""Retrieval internals that latency work touched, checked on the real corpus index and model."""

from __future__ import annotations

import numpy as np

from assistant.service import AnswerService
from assistant.text import terms

QUESTION = "When did PCNs go live nationally, and from what date could they hire newly qualified GPs?"


def test_sentence_scores_come_from_the_mapped_file_and_equal_chromas_stored_vectors(
    corpus_service: AnswerService,
) -> None:
    """The memory-mapped sentence matrix is an exact copy of what Chroma stores: every passage's
    sentence scores equal the query's product with the sentences' vectors read back from Chroma."""
    index = corpus_service.cache.current()
    assert isinstance(index.sentence_vectors, np.memmap)
    vector = corpus_service.embedder.encode_queries([corpus_service.search.expand(QUESTION)])[0]
    result = corpus_service.search.search(QUESTION)
    assert result.passages
    for passage in result.passages:
        stored = corpus_service.store.sentences.get(
            where={"chunk_id": passage.id}, include=["embeddings", "metadatas", "documents"]
        )
        by_number = sorted(
            zip(stored["metadatas"] or [], stored["documents"] or [], stored["embeddings"], strict=True),
            key=lambda row: int(str(row[0]["i"])),
        )
        assert [text for _, text, _ in by_number] == passage.sentences
        expected = np.asarray([v for _, _, v in by_number], dtype=np.float32) @ vector
        np.testing.assert_allclose(passage.sentence_scores, expected, rtol=1e-5, atol=1e-6)


def test_a_question_and_its_parts_searched_together_retrieve_as_alone(corpus_service: AnswerService) -> None:
    """The service searches a two-part question and its parts in one model call; each must retrieve
    exactly as if searched alone."""
    queries = [QUESTION, "When did PCNs go live nationally?", "From what date could PCNs hire new GPs?"]
    together = corpus_service.search.search_many(queries)
    assert set(together[0].timings_ms) == {"embed", "search", "rescore"}
    for query, batched in zip(queries, together, strict=True):
        alone = corpus_service.search.search(query)
        assert batched.query == query
        assert [p.id for p in batched.passages] == [p.id for p in alone.passages]
        np.testing.assert_allclose(
            [p.score for p in batched.passages], [p.score for p in alone.passages], rtol=1e-4, atol=1e-5
        )


def test_the_api_loads_no_document_parser_or_language_model_client_until_one_is_needed() -> None:
    """A serving worker's private memory is mostly the libraries it imports: the PDF, Word and HTML
    parsers load with the first upload of their kind, the OpenAI client only when PMA_LLM__BASE_URL is
    set (every worker would otherwise carry ~70 MB it never uses)."""
    import subprocess
    import sys

    from conftest import child_env

    heavy = ("openai", "langchain_openai", "pypdf", "docx", "trafilatura", "sklearn", "torch")
    code = (
        f"import sys; import bots.api.app, bots.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env()
    )
    assert result.stdout.strip() == "[]"


def test_residual_scores_measure_the_question_without_the_documents_own_subject(
    corpus_service: AnswerService,
) -> None:
    """Sentences are also scored against the question less the top passage's title words, with the
    real model; with nothing left out the residual scores are the plain ones."""
    from assistant.retrieval import HybridSearch

    result = corpus_service.search.search(QUESTION)
    top = result.passages[0]
    title = str(top.metadata["title"])
    asked = f"{title} who signs it"
    residual = HybridSearch.residual_query(asked, top)
    assert residual.endswith("who signs it")
    assert set(terms(residual)) == set(
        terms("who signs it")
    )  # the title's words are gone, function words may stay
    assert HybridSearch.residual_query(title, top) == ""  # only the title: nothing of its own is asked
    (searched,) = corpus_service.search.search_many([asked])
    residual = HybridSearch.residual_query(asked, searched.passages[0])
    assert residual
    vector = corpus_service.store.embedder.encode_queries([residual])[0]
    index = searched.index
    assert index is not None
    for p in searched.passages:
        expected = index.sentence_rows(index.position[p.id]) @ np.asarray(vector, dtype=np.float32)
        np.testing.assert_allclose(p.residual_scores, expected, rtol=1e-5, atol=1e-6)
        assert len(p.residual_scores) == len(p.sentences)
    plain = corpus_service.search.search("zzqx")
    for p in plain.passages:
        assert p.residual_scores == p.sentence_scores
