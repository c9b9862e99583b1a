"""A `pm-ingest` killed with SIGKILL mid-run loses nothing and leaves nothing behind: running it again
gives exactly the index a clean run gives (same chunk ids, no duplicates, record manager == Chroma,
no orphan sentences)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import child_env, make_settings
from fixtures_docs import VOCAB

from assistant.embeddings import Embedder
from assistant.store import ChunkStore, open_store
from ingest.indexer import BATCH_CHUNKS, Indexer

FILES = 240  # one ~40-word chunk each: two batches of up to BATCH_CHUNKS chunks
FIRST_RECORDS_TIMEOUT_S = 420  # model load + one batch, on a busy 2-core machine


def write_corpus(root: Path) -> None:
    rng = random.Random(2024)
    for n in range(FILES):
        folder = root / f"topic-{n % 6}"
        folder.mkdir(parents=True, exist_ok=True)
        sentences = [
            f"Note {n} point {i} says the " + " ".join(rng.choice(VOCAB) for _ in range(14)) + "."
            for i in range(2)
        ]
        (folder / f"note-{n:03d}.md").write_text(
            f"---\ntitle: Note {n}\ntopic: topic-{n % 6}\n---\n\n## Facts\n\n{' '.join(sentences)}\n",
            encoding="utf-8",
        )


def pm_ingest(corpus: Path, data_dir: Path, cwd: Path) -> subprocess.Popen[str]:
    env = child_env()
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", str(corpus), "--data-dir", str(data_dir), "--json"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count_rows(db: Path, table: str) -> int:
    """Rows in a table of the record manager's SQLite file, read while another process writes it."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return 0


def snapshot(data_dir: Path, embedder: Embedder) -> dict:
    settings = make_settings(data_dir)
    store: ChunkStore = open_store(settings, embedder)
    indexer = Indexer(settings, store)
    chunks = store.chunks.get(include=["documents", "metadatas", "embeddings"])
    sentences = store.sentence_owner_ids()
    with sqlite3.connect(data_dir / "records.sqlite3") as conn:
        files = set(conn.execute("SELECT source, digest, chunks FROM ingested_files").fetchall())
    return {
        "ids": list(chunks["ids"]),
        "texts": list(chunks["documents"] or []),
        "sources": [m["source"] for m in chunks["metadatas"] or []],
        "vectors": dict(zip(chunks["ids"], np.asarray(chunks["embeddings"]), strict=True)),
        "records": indexer.records.list_keys(),
        "sentences": sentences,
        "files": files,
    }


def test_sigkill_mid_run_then_rerun_equals_a_clean_run(tmp_path: Path, embedder: Embedder) -> None:
    assert FILES > BATCH_CHUNKS + 64, "the corpus must take several batches so a kill lands mid-run"
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    crashed = tmp_path / "crashed"
    records_db = crashed / "records.sqlite3"

    # Run 1: killed as soon as the first batch is recorded, while later batches are being embedded.
    first = pm_ingest(corpus, crashed, tmp_path)
    deadline = time.monotonic() + FIRST_RECORDS_TIMEOUT_S
    recorded = 0
    try:
        while time.monotonic() < deadline:
            if first.poll() is not None:
                out, err = first.communicate()
                pytest.fail(
                    f"the first run finished (exit {first.returncode}) before it could be killed, with "
                    f"{count_rows(records_db, 'upsertion_record')} chunks recorded: the kill must land "
                    f"mid-run, so make the corpus bigger.\nstdout: {out}\nstderr: {err[-2000:]}"
                )
            recorded = count_rows(records_db, "upsertion_record")
            if recorded:
                first.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"no chunk recorded within {FIRST_RECORDS_TIMEOUT_S} s")
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    recorded = count_rows(records_db, "upsertion_record")
    assert 0 < recorded < FILES, f"{recorded} of {FILES} chunks recorded: not a mid-run kill"
    assert count_rows(records_db, "ingested_files") < FILES

    # Run 2: completes, finishing the work without redoing or duplicating what was recorded.
    second = pm_ingest(corpus, crashed, tmp_path)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["failed"] == []
    assert report["updated"] == 0
    assert report["added"] + report["skipped"] == FILES
    assert (report["documents"], report["chunks"]) == (FILES, FILES)

    # A clean run in another data dir, with this process's model.
    clean_dir = tmp_path / "clean"
    clean_report = Indexer(make_settings(clean_dir), open_store(make_settings(clean_dir), embedder)).run(
        [corpus]
    )
    assert (clean_report.added, clean_report.chunks) == (FILES, FILES)

    got, want = snapshot(crashed, embedder), snapshot(clean_dir, embedder)
    assert len(got["ids"]) == FILES
    assert set(got["ids"]) == set(want["ids"])
    assert len(set(got["texts"])) == FILES, "a chunk is stored twice"
    assert sorted(got["sources"]) == sorted(want["sources"])
    assert set(got["records"]) == set(got["ids"])
    assert len(got["records"]) == len(set(got["records"]))
    assert set(got["sentences"]) == set(want["sentences"])
    assert set(got["sentences"].values()) == set(got["ids"]), "orphan sentences, or chunks without any"
    assert got["files"] == want["files"]
    for chunk_id, vector in want["vectors"].items():
        np.testing.assert_allclose(got["vectors"][chunk_id], vector, atol=1e-4)
