"""What maintainers hit when naming paths: `.pmaignore` files apply to their own folder and below from
wherever the ingest starts, and a failure's `source` is the path as typed, not joined to the working
directory. Real Chroma, the real model, and `pm-ingest` as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import child_env, make_settings
from test_ingest import note, write_tree

from assistant.embeddings import Embedder
from assistant.store import open_store
from ingest.indexer import Indexer, scan


def project(root: Path) -> Path:
    """A folder holding corpus/, as a maintainer's checkout does."""
    write_tree(
        root / "corpus",
        {
            ".pmaignore": "# not guidance\nREADME.md\nglossary.yml\ndrafts/\n",
            "README.md": "# How to keep the corpus\n\nEdit the notes, then run the ingest again.\n",
            "glossary.yml": "ARRS: Additional Roles Reimbursement Scheme\n",
            "rota.md": note("Reception rota", "workforce", 4, 1),
            "drafts/wip.md": note("Work in progress", "workforce", 4, 2),
            "pcn/.pmaignore": "old-*.md\n!old-keep.md\n",
            "pcn/README.md": "# PCN notes\n\nWhat lives in this folder and who keeps it up to date.\n",
            "pcn/des.md": note("Network DES", "pcn", 4, 3),
            "pcn/old-2019.md": note("DES 2019", "pcn", 4, 4),
            "pcn/old-keep.md": note("DES history", "pcn", 4, 5),
        },
    )
    return root


def names(paths: list[Path], root: Path) -> set[str]:
    return {p.resolve().relative_to(root.resolve()).as_posix() for p in paths}


def test_pmaignore_applies_to_its_folder_and_below_wherever_the_ingest_starts(tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    kept = {"corpus/rota.md", "corpus/pcn/des.md", "corpus/pcn/old-keep.md"}
    assert names(scan(root), root) == kept  # started above corpus/
    assert names(scan(root / "corpus"), root) == kept  # started at it
    assert names(scan(root / "corpus" / "pcn"), root) == {"corpus/pcn/des.md", "corpus/pcn/old-keep.md"}
    # A file or folder named on the command line is taken even if a pattern would drop it.
    assert names(scan(root / "corpus" / "README.md"), root) == {"corpus/README.md"}
    assert names(scan(root / "corpus" / "drafts"), root) == {"corpus/drafts/wip.md"}


def test_ingesting_a_parent_honours_corpus_pmaignore(tmp_path: Path, embedder: Embedder) -> None:
    root = project(tmp_path / "checkout")
    settings = make_settings(tmp_path / "data")
    report = Indexer(settings, open_store(settings, embedder)).run([root])
    assert report.failed == []  # glossary.yml is ignored, not an "unsupported file type" failure
    assert (report.added, report.documents) == (3, 3)
    sources = {str(m["source"]) for m in open_store(settings, embedder).all_chunks().metadatas}
    assert sources == {"corpus/rota.md", "corpus/pcn/des.md", "corpus/pcn/old-keep.md"}


def test_a_missing_path_is_reported_as_given(tmp_path: Path, embedder: Embedder, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path / "data")
    report = Indexer(settings, open_store(settings, embedder)).run([Path("missing/nothing.md")])
    assert [(f.source, f.error) for f in report.failed] == [("missing/nothing.md", "no such file or folder")]


@pytest.mark.timeout(1200)
def test_cli_from_a_parent_folder(tmp_path: Path) -> None:
    root = project(tmp_path / "checkout")
    env = child_env()
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", ".", "missing/nothing.md", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["failed"] == [{"source": "missing/nothing.md", "error": "no such file or folder"}]
    assert (payload["added"], payload["documents"]) == (3, 3)
    assert (root / "var" / "records.sqlite3").is_file()  # the default data dir, inside the ingested folder
