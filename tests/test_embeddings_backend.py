"""The int8 ONNX encoder: chosen from settings, exported once into the data dir, agreeing with PyTorch,
falling back to PyTorch with one log line, and never sharing collections with it.

The export (torch.onnx.export + quantisation) runs once per machine, into the suite's shared model cache
(`conftest.MODEL_CACHE`, exported by whichever test first needs it); this module copies it into a data dir
of its own, so its checks of reuse and corruption never touch the shared one.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, MODEL_CACHE, make_settings

from assistant.config import Settings
from assistant.embeddings import MODEL_ID, ONNX_SUFFIX, Embedder, embedder_for
from assistant.index_cache import IndexCache
from assistant.onnx_encoder import MODEL_FILE, RECORD_FILE
from assistant.store import open_store
from assistant.text import split_sentences
from ingest.indexer import Indexer

# The export takes ~1 CPU-minute; on a shared, busy machine the wall time can pass the default timeout.
pytestmark = pytest.mark.timeout(1800)

NOTE = """---
title: Locum booking
topic: workforce
---

## Booking

Locum sessions are booked four weeks ahead through the practice's rota. The agreement names the rate
and the sessions, and who pays the pension contributions.
"""


def _fallback_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "assistant.embeddings" and "falling back to PyTorch" in r.getMessage()
    ]


@pytest.fixture(scope="module")
def onnx_data(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data dir whose models/ holds the exported int8 model (a copy of the suite's shared export)."""
    assert embedder.backend == "onnx", "the int8 export failed or disagreed; see the log"
    data = tmp_path_factory.mktemp("onnx-data")
    shutil.copytree(MODEL_CACHE, data / "models", ignore=shutil.ignore_patterns(".*"))
    return data


@pytest.fixture(scope="module")
def onnx_embedder(onnx_data: Path) -> Embedder:
    return embedder_for(make_settings(onnx_data, embedding__backend="onnx", embedding__cache_dir=None))


def _model_folder(data: Path) -> Path:
    (folder,) = (data / "models").glob("onnx-*")
    return folder


def test_backend_comes_from_settings(
    onnx_data: Path, onnx_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().embedding.backend == "onnx"  # the default
    monkeypatch.setenv("PMA_EMBEDDING__BACKEND", "torch")
    monkeypatch.setenv("PMA_EMBEDDING__QUERY_CACHE_SIZE", "7")
    from_env = Settings()
    assert (from_env.embedding.backend, from_env.embedding.query_cache_size) == ("torch", 7)

    assert onnx_embedder.backend == "onnx"
    assert onnx_embedder.model_id == MODEL_ID + ONNX_SUFFIX
    options = onnx_embedder.load().session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    vectors = onnx_embedder.encode(["What is the locum rate?", "A second, longer sentence about rotas."])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    torch_settings = make_settings(onnx_data, embedding__backend="torch")
    torch_embedder = embedder_for(torch_settings)
    assert (torch_embedder.backend, torch_embedder.model_id) == ("torch", MODEL_ID)


def test_onnx_agrees_with_pytorch_on_corpus_sentences(
    onnx_data: Path, onnx_embedder: Embedder, torch_embedder: Embedder
) -> None:
    """The agreement recorded at export was on a fixed sample; this checks real corpus sentences."""
    sentences: list[str] = []
    for note in sorted(CORPUS.rglob("*.md"))[:12]:
        body = note.read_text(encoding="utf-8").split("---", 2)[-1]
        sentences.extend(s for s in split_sentences(body) if len(s.split()) >= 4)
    sentences = sentences[:80]
    assert len(sentences) >= 50
    cosines = (onnx_embedder.encode(sentences) * torch_embedder.encode(sentences)).sum(axis=1)
    print(f"onnx vs torch, {len(sentences)} corpus sentences: {cosines.mean():.4f} (min {cosines.min():.4f})")
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.9

    record = json.loads((_model_folder(onnx_data) / RECORD_FILE).read_text(encoding="utf-8"))
    assert record["sample_sentences"] == 50
    assert 0.99 <= record["mean_cosine"] < 1.0
    assert record["min_cosine"] <= record["mean_cosine"]


def test_cached_model_reused_on_second_start(onnx_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = _model_folder(onnx_data) / MODEL_FILE
    before = model.stat()
    caplog.set_level(logging.INFO)
    again = Embedder(backend="onnx", cache_dir=onnx_data / "models")  # a new process would do this
    assert again.backend == "onnx"
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    assert len(list((onnx_data / "models").glob("onnx-*"))) == 1


def test_impossible_agreement_threshold_falls_back_to_pytorch(
    onnx_data: Path, torch_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    strict = Embedder(backend="onnx", cache_dir=onnx_data / "models", min_agreement=1.0)
    assert strict.backend == "torch"
    assert strict.model_id == MODEL_ID
    (line,) = _fallback_lines(caplog)
    assert "mean cosine" in line
    assert "< 1.0" in line
    text = ["Who pays the locum's pension contributions?"]
    np.testing.assert_allclose(strict.encode(text), torch_embedder.encode(text), atol=1e-5)


def test_corrupt_cached_model_falls_back_to_pytorch(
    onnx_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "models"
    shutil.copytree(onnx_data / "models", broken)
    (_model_folder(tmp_path) / MODEL_FILE).write_bytes(b"not an onnx graph" * 100)
    caplog.set_level(logging.WARNING)
    fallen = Embedder(backend="onnx", cache_dir=broken)
    assert (fallen.backend, fallen.model_id) == ("torch", MODEL_ID)
    (line,) = _fallback_lines(caplog)
    assert "cannot load" in line


def test_backends_never_share_collections(
    onnx_embedder: Embedder, torch_embedder: Embedder, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "locum.md").write_text(NOTE, encoding="utf-8")
    settings = make_settings(tmp_path / "data")

    torch_store = open_store(settings, torch_embedder)
    report = Indexer(settings, torch_store).run([corpus])
    assert report.added >= 1
    torch_chunks, torch_sentences = torch_store.chunks.count(), torch_store.sentences.count()
    assert torch_chunks >= 1
    torch_index = IndexCache(torch_store, settings.data_dir / "index-cache").current()
    assert torch_index.ids

    onnx_store = open_store(settings, onnx_embedder)
    assert onnx_store.chunks.name != torch_store.chunks.name
    assert onnx_store.sentences.name != torch_store.sentences.name
    assert "onnx-int8" in onnx_store.chunks.name
    assert onnx_store.chunks.count() == 0
    # The same data dir's derived index was built for the torch collection: not served for onnx.
    assert not IndexCache(onnx_store, settings.data_dir / "index-cache").current().ids

    # Ingesting with onnx fills its own collections and leaves the torch ones exactly as they were.
    onnx_report = Indexer(settings, onnx_store).run([corpus])
    # (the file table is shared, and its digests carry the model id: the switch re-embeds every file)
    assert (onnx_report.added + onnx_report.updated, onnx_report.chunks) == (report.added, report.chunks)
    assert onnx_store.chunks.count() == torch_chunks
    assert (torch_store.chunks.count(), torch_store.sentences.count()) == (torch_chunks, torch_sentences)
    onnx_vector = np.asarray(onnx_store.chunks.get(include=["embeddings"])["embeddings"][0])
    torch_vector = np.asarray(torch_store.chunks.get(include=["embeddings"])["embeddings"][0])
    assert not np.array_equal(onnx_vector, torch_vector)  # different backends, different vectors
    assert float(onnx_vector @ torch_vector) > 0.98  # of the same text


def test_query_cache_returns_remembered_vectors() -> None:
    embedder = Embedder(query_cache_size=2)
    first = embedder.encode_queries(["when is the claim due?", "when is the claim due?"])
    assert embedder.query_cache_info()[:2] == (1, 1)  # the repeat inside one call is a hit
    np.testing.assert_array_equal(first[0], first[1])
    again = embedder.encode_queries(["when is the claim due?"])
    np.testing.assert_array_equal(again[0], first[0])
    assert embedder.query_cache_info().hits == 2

    embedder.encode_queries(["who signs the lease?", "what is the rota?"])  # evicts the oldest
    info = embedder.query_cache_info()
    assert (info.currsize, info.maxsize, info.misses) == (2, 2, 3)
    embedder.encode_queries(["when is the claim due?"])
    assert embedder.query_cache_info().misses == 4
    again[0] += 1.0  # a caller's array is its own: the cached vector is unchanged
    np.testing.assert_array_equal(embedder.encode_queries(["when is the claim due?"])[0], first[0])

    off = Embedder(query_cache_size=0)
    off.encode_queries(["when is the claim due?"] * 2)
    assert off.query_cache_info().currsize == 0
