"""Incremental indexing with real Chroma and the real packaged model: skips, edits, prune, dry runs,
failures, drift repair, and `pm-ingest` as a real subprocess."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import child_env, make_settings
from fixtures_docs import VOCAB, make_corrupt_pdf, make_pdf

import ingest.indexer
from assistant.embeddings import Embedder
from assistant.store import open_store
from assistant.types import IngestReport
from ingest.indexer import Indexer, ingested_files

REPORT_KEYS = {
    "added",
    "updated",
    "skipped",
    "deleted",
    "failed",
    "documents",
    "chunks",
    "repaired",
    "not_modified",
}


def note(title: str, topic: str, sentences: int, seed: int) -> str:
    """A corpus-style note: front matter, a heading, `sentences` distinct sentences of ~15 words."""
    rng = random.Random(seed)
    body = " ".join(
        f"Point {seed}.{i} covers the " + " ".join(rng.choice(VOCAB) for _ in range(12)) + "."
        for i in range(sentences)
    )
    return f"---\ntitle: {title}\ntopic: {topic}\n---\n\n# {title}\n\n## Key facts\n\n{body}\n"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def small_tree(root: Path) -> Path:
    return write_tree(
        root,
        {
            "rota.md": note("Reception rota", "workforce", 4, 1),
            "claims.md": note("ARRS claims", "pcn", 5, 2),
            "leave.md": note("Annual leave", "workforce", 3, 3),
            "pcn/des.md": note("Network DES", "pcn", 4, 4),
        },
    )


def indexer_for(data_dir: Path, embedder: Embedder) -> Indexer:
    """A fresh store and indexer over `data_dir`, as a new `pm-ingest` process would open them."""
    settings = make_settings(data_dir)
    return Indexer(settings, open_store(settings, embedder))


def ids_by_source(indexer: Indexer) -> dict[str, set[str]]:
    stored = indexer.store.all_chunks()
    out: dict[str, set[str]] = defaultdict(set)
    for chunk_id, meta in zip(stored.ids, stored.metadatas, strict=True):
        out[str(meta["source"])].add(chunk_id)
    return dict(out)


def file_rows(indexer: Indexer) -> set[tuple[str, str, str]]:
    with indexer.engine.connect() as conn:
        table = ingested_files.c
        rows = conn.execute(sa.select(table.source, table.root, table.digest))
        return {(str(s), str(r), str(d)) for s, r, d in rows}


def assert_consistent(indexer: Indexer) -> None:
    """Record manager keys == Chroma chunk ids; every sentence belongs to a chunk and every chunk has some."""
    chunk_ids = indexer.store.chunk_ids()
    assert set(indexer.records.list_keys()) == chunk_ids
    assert set(indexer.store.sentence_owner_ids().values()) == chunk_ids
    assert {row[0] for row in file_rows(indexer)} == set(ids_by_source(indexer))


def counts(report: IngestReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.skipped, report.deleted


def failures(report: IngestReport) -> dict[str, str]:
    return {f.source: f.error for f in report.failed}


# ------------------------------------------------------------------------------ incremental runs


def test_unchanged_edit_and_prune_touch_only_what_changed(tmp_path: Path, embedder: Embedder) -> None:
    corpus = small_tree(tmp_path / "corpus")
    data = tmp_path / "data"

    first = indexer_for(data, embedder).run([corpus])
    assert counts(first) == (4, 0, 0, 0)
    assert first.failed == []
    assert first.documents == 4
    indexer = indexer_for(data, embedder)
    original = ids_by_source(indexer)
    assert set(original) == {"rota.md", "claims.md", "leave.md", "pcn/des.md"}
    assert first.chunks == sum(len(ids) for ids in original.values())
    stored = indexer.store.all_chunks()
    for meta in stored.metadatas:
        assert {"title", "topic", "source", "section", "chunk"} <= meta.keys()
    assert {(m["source"], m["title"], m["topic"]) for m in stored.metadatas} >= {
        ("claims.md", "ARRS claims", "pcn"),
        ("pcn/des.md", "Network DES", "pcn"),
    }
    assert_consistent(indexer)

    # Unchanged tree: everything skipped, nothing rewritten, readers' caches stay valid.
    generation = indexer.store.generation()
    again = indexer_for(data, embedder).run([corpus])
    assert counts(again) == (0, 0, 4, 0)
    assert (again.documents, again.chunks) == (first.documents, first.chunks)
    assert ids_by_source(indexer) == original
    assert indexer.store.generation() == generation

    # One file edited: only its chunks change.
    (corpus / "claims.md").write_text(note("ARRS claims", "pcn", 5, 22), encoding="utf-8")
    edited = indexer_for(data, embedder).run([corpus])
    assert counts(edited) == (0, 1, 3, 0)
    after_edit = ids_by_source(indexer)
    assert after_edit["claims.md"].isdisjoint(original["claims.md"])
    assert {s: ids for s, ids in after_edit.items() if s != "claims.md"} == {
        s: ids for s, ids in original.items() if s != "claims.md"
    }
    assert indexer.store.generation() != generation
    assert_consistent(indexer)

    # A deleted file stays indexed until --prune, which removes its chunks and nobody else's.
    (corpus / "leave.md").unlink()
    kept = indexer_for(data, embedder).run([corpus])
    assert counts(kept) == (0, 0, 3, 0)
    assert ids_by_source(indexer) == after_edit
    pruned = indexer_for(data, embedder).run([corpus], prune=True)
    assert counts(pruned) == (0, 0, 3, 1)
    assert pruned.documents == 3
    assert ids_by_source(indexer) == {s: ids for s, ids in after_edit.items() if s != "leave.md"}
    assert_consistent(indexer)


def test_dry_run_reports_the_real_run_and_changes_nothing(tmp_path: Path, embedder: Embedder) -> None:
    corpus = small_tree(tmp_path / "corpus")
    data = tmp_path / "data"
    indexer_for(data, embedder).run([corpus])
    (corpus / "new.md").write_text(note("New starters", "workforce", 3, 5), encoding="utf-8")
    (corpus / "rota.md").write_text(note("Reception rota", "workforce", 4, 11), encoding="utf-8")
    (corpus / "leave.md").unlink()
    make_corrupt_pdf(corpus / "broken.pdf")

    indexer = indexer_for(data, embedder)
    before = (ids_by_source(indexer), set(indexer.records.list_keys()), file_rows(indexer))
    generation = indexer.store.generation()
    sentences = indexer.store.sentences.count()

    dry = indexer.run([corpus], prune=True, dry_run=True)

    assert counts(dry) == (1, 1, 2, 1)
    assert set(failures(dry)) == {"broken.pdf"}
    assert (ids_by_source(indexer), set(indexer.records.list_keys()), file_rows(indexer)) == before
    assert indexer.store.generation() == generation
    assert indexer.store.sentences.count() == sentences

    real = indexer_for(data, embedder).run([corpus], prune=True)
    assert counts(real) == counts(dry)
    assert failures(real).keys() == failures(dry).keys()
    assert set(ids_by_source(indexer)) == {"rota.md", "claims.md", "pcn/des.md", "new.md"}
    assert_consistent(indexer)


def test_prune_with_a_single_file_deletes_nothing_else(tmp_path: Path, embedder: Embedder) -> None:
    corpus = small_tree(tmp_path / "corpus")
    data = tmp_path / "data"
    indexer_for(data, embedder).run([corpus])
    indexer = indexer_for(data, embedder)
    before = ids_by_source(indexer)

    report = indexer.run([corpus / "rota.md"], prune=True)

    assert counts(report) == (0, 0, 1, 0)
    assert ids_by_source(indexer) == before


def test_a_pipeline_version_bump_replaces_every_chunk(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bumping PIPELINE_VERSION (say, for a new way of making vectors) re-embeds unchanged text too."""
    corpus = write_tree(
        tmp_path / "corpus",
        {
            "rota.md": note("Reception rota", "workforce", 3, 1),
            "leave.md": note("Annual leave", "workforce", 3, 3),
        },
    )
    data = tmp_path / "data"
    indexer_for(data, embedder).run([corpus])
    indexer = indexer_for(data, embedder)
    before = ids_by_source(indexer)

    monkeypatch.setattr(ingest.indexer, "PIPELINE_VERSION", "next")
    report = indexer_for(data, embedder).run([corpus])

    assert counts(report) == (0, 2, 0, 0)
    after = ids_by_source(indexer)
    assert set(after) == set(before)
    assert all(after[source].isdisjoint(before[source]) for source in before)
    assert report.chunks == sum(len(ids) for ids in before.values())
    assert_consistent(indexer)


# ------------------------------------------------------------------------------ failures


def test_bad_files_are_reported_and_everything_else_is_ingested(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_tree(
        tmp_path / "corpus",
        {"rota.md": note("Reception rota", "workforce", 4, 1), "claims.md": note("ARRS claims", "pcn", 4, 2)},
    )
    make_pdf(
        corpus / "sickness.pdf",
        ["Sickness absence policy\nStaff who are unwell should phone the practice manager before nine."],
    )
    make_corrupt_pdf(corpus / "broken.pdf")
    (corpus / "photo.md").write_bytes(random.Random(1).randbytes(2048) + b"\x00\x01")
    (corpus / "notes.xyz").write_text("Some notes in a format nobody reads.", encoding="utf-8")
    (corpus / "stub.md").write_text("## Note\n\nCall first.\n", encoding="utf-8")
    data = tmp_path / "data"

    report = indexer_for(data, embedder).run([corpus])

    errors = failures(report)
    assert set(errors) == {"broken.pdf", "photo.md", "notes.xyz", "stub.md"}
    assert errors["broken.pdf"].startswith("not a valid PDF")
    assert errors["photo.md"] == "binary content in a text file"
    assert errors["notes.xyz"] == "unsupported file type .xyz"
    assert "no indexable text" in errors["stub.md"]
    assert counts(report) == (3, 0, 0, 0)
    indexer = indexer_for(data, embedder)
    good = ids_by_source(indexer)
    assert set(good) == {"rota.md", "claims.md", "sickness.pdf"}
    assert_consistent(indexer)

    # Files that ingested fine and are now corrupt keep their chunks, even with --prune.
    original = {name: (corpus / name).read_bytes() for name in ("rota.md", "sickness.pdf")}
    (corpus / "rota.md").write_bytes(random.Random(2).randbytes(4096) + b"\x00")
    make_corrupt_pdf(corpus / "sickness.pdf", size=3000)
    damaged = indexer_for(data, embedder).run([corpus], prune=True)
    errors = failures(damaged)
    assert errors["rota.md"] == "binary content in a text file"
    assert errors["sickness.pdf"].startswith("not a valid PDF")
    assert counts(damaged) == (0, 0, 1, 0)
    assert ids_by_source(indexer) == good
    assert_consistent(indexer)

    # Once repaired, the files match what is indexed: nothing to do.
    for name, data_bytes in original.items():
        (corpus / name).write_bytes(data_bytes)
    repaired = indexer_for(data, embedder).run([corpus])
    assert counts(repaired) == (0, 0, 3, 0)
    assert ids_by_source(indexer) == good


# ------------------------------------------------------------------------------ drift repair


def test_reconcile_repairs_drift_between_records_and_chroma(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_tree(
        tmp_path / "corpus",
        {
            # ~900 words in one section: several chunks, so part of it can be lost.
            "long.md": note("Partnership review", "partnership-review", 60, 7),
            "rota.md": note("Reception rota", "workforce", 4, 1),
        },
    )
    data = tmp_path / "data"
    indexer_for(data, embedder).run([corpus])
    indexer = indexer_for(data, embedder)
    original = ids_by_source(indexer)
    assert len(original["long.md"]) >= 3
    lost = sorted(original["long.md"])[:2]
    lost_sentences = sum(owner in lost for owner in indexer.store.sentence_owner_ids().values())
    assert lost_sentences >= 2
    indexer.store.chunks.delete(ids=lost)  # behind the record manager's back; their sentences remain
    indexer.store.chunks.add(
        ids=["orphan-chunk"],
        embeddings=[[0.05] * 384],
        documents=["A chunk no record knows about, left by some earlier accident in the store."],
        metadatas=[{"source": "ghost.md"}],
    )
    indexer.store.sentences.add(
        ids=["orphan-chunk:0"],
        embeddings=[[0.05] * 384],
        documents=["A sentence of a chunk that no longer exists."],
        metadatas=[{"chunk_id": "gone", "i": 0, "source": "ghost.md", "topic": ""}],
    )
    assert set(indexer.records.list_keys()) != indexer.store.chunk_ids()

    report = indexer_for(data, embedder).run([corpus])

    assert report.failed == []
    assert ids_by_source(indexer) == original
    assert_consistent(indexer)
    assert report.chunks == sum(len(ids) for ids in original.values())
    # Every repair is counted: 1 orphan chunk, 2 stale records, the orphan sentence plus those of the
    # lost chunks, and 1 file indexed again.
    assert report.repaired == 1 + 2 + (1 + lost_sentences) + 1
    # The repaired file is recorded with its real digest: the next run has nothing to do.
    again = indexer_for(data, embedder).run([corpus])
    assert counts(again) == (0, 0, 2, 0)
    assert again.repaired == 0


# ------------------------------------------------------------------------------ the command


def pm_ingest(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`pm-ingest` in a real process, with no PMA_* settings leaking in from this environment."""
    env = child_env()
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def parse_report(stdout: str) -> dict:
    """stdout must be exactly one JSON object with exactly the report's keys."""
    assert stdout.endswith("\n")
    assert stdout.count("\n") == 1, stdout
    payload = json.loads(stdout)
    assert set(payload) == REPORT_KEYS
    for failure in payload["failed"]:
        assert set(failure) == {"source", "error"}
    return payload


def test_cli_usage_error_exits_2(tmp_path: Path) -> None:
    result = pm_ingest("--json", cwd=tmp_path)  # no PATH
    assert result.returncode == 2
    assert "usage: pm-ingest" in result.stderr
    assert result.stdout == ""


def test_cli_exits_1_when_every_file_fails(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_corrupt_pdf(corpus / "broken.pdf")
    (corpus / "notes.xyz").write_text("Notes in a format nobody reads, long enough.", encoding="utf-8")

    result = pm_ingest(corpus, "--data-dir", tmp_path / "data", "--json", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    payload = parse_report(result.stdout)
    assert {f["source"] for f in payload["failed"]} == {"broken.pdf", "notes.xyz"}
    assert all(f["error"] for f in payload["failed"])
    assert (payload["added"], payload["documents"], payload["chunks"]) == (0, 0, 0)


def test_cli_json_dry_run_and_prune(tmp_path: Path, embedder: Embedder) -> None:
    """The command on an index built in-process: nothing needs embedding, so no model is loaded."""
    corpus = small_tree(tmp_path / "corpus")
    data = tmp_path / "data"
    indexer_for(data, embedder).run([corpus])
    indexer = indexer_for(data, embedder)
    before = ids_by_source(indexer)
    (corpus / "leave.md").unlink()
    make_corrupt_pdf(corpus / "broken.pdf")

    dry = pm_ingest(corpus, "--data-dir", data, "--prune", "--dry-run", "--json", cwd=tmp_path)

    assert dry.returncode == 0, dry.stderr
    payload = parse_report(dry.stdout)
    assert {k: payload[k] for k in ("added", "updated", "skipped", "deleted")} == {
        "added": 0,
        "updated": 0,
        "skipped": 3,
        "deleted": 1,
    }
    assert [f["source"] for f in payload["failed"]] == ["broken.pdf"]
    assert ids_by_source(indexer) == before

    real = pm_ingest(corpus, "--data-dir", data, "--prune", "--json", cwd=tmp_path)

    assert real.returncode == 0, real.stderr  # one file failed, the others were processed
    payload = parse_report(real.stdout)
    assert (payload["skipped"], payload["deleted"], payload["documents"]) == (3, 1, 3)
    assert [f["source"] for f in payload["failed"]] == ["broken.pdf"]
    assert ids_by_source(indexer) == {s: ids for s, ids in before.items() if s != "leave.md"}
    assert payload["chunks"] == sum(len(ids) for s, ids in before.items() if s != "leave.md")
    assert_consistent(indexer)
