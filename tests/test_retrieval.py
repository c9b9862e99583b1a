"""Retrieval internals that latency work touched, checked on the real corpus index and model."""

from __future__ import annotations

import numpy as np

from assistant.service import AnswerService

QUESTION = "When did PCNs go live nationally, and from what date could they hire newly qualified GPs?"


def test_sentence_scores_match_a_plain_product_and_per_chunk_maximum(corpus_service: AnswerService) -> None:
    index = corpus_service.cache.current()
    vector = corpus_service.embedder.encode([QUESTION])[0]
    sims = index.sentence_similarities(vector)[0]
    np.testing.assert_allclose(sims, index.sentence_vectors @ vector, rtol=1e-5, atol=1e-6)
    best = index.best_per_chunk(sims)
    assert best.shape == (len(index.ids),)
    for position, (start, end) in enumerate(index.spans):
        expected = sims[start:end].max() if end > start else -1.0
        assert best[position] == np.float32(expected), index.ids[position]


def test_a_question_and_its_parts_searched_together_retrieve_as_alone(corpus_service: AnswerService) -> None:
    """The service searches a two-part question and its parts in one model call and one pass over the
    sentence matrix; each must retrieve exactly as if searched alone."""
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
