"""Documents that can't hurt (issue 11, rows 3 and 7): every `PMA_INGEST__*` limit refuses a hostile or
oversized file quickly, with a reason naming the setting, while the rest of the run is indexed."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from conftest import make_settings
from fixtures_docs import make_docx, make_pdf

from assistant.config import IngestSettings, Settings
from assistant.embeddings import Embedder
from assistant.store import open_store
from ingest.indexer import Indexer
from ingest.loaders import LoadError, load_file

GOOD_NOTE = """---
title: Reception rota policy
topic: workforce
---
# Reception rota policy

Reception staff rotate between the front desk and the telephone queue every two hours, and the
practice manager reviews the rota policy every April with the reception team leads.
"""


def billion_laughs() -> str:
    """Nine levels of nine aliases each: under 500 bytes of YAML that flatten to 9**9 strings."""
    lines = ["---", "title: Laughs", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    lines += ["---", "", "Laughing at the indexer for a very long time indeed, or so it hoped."]
    return "\n".join(lines) + "\n"


def zip_bomb_docx(path: Path, tmp_path: Path, inflated_mb: int) -> Path:
    """A real DOCX whose document.xml is padded with `inflated_mb` MB of spaces inside a comment.

    It is valid XML that python-docx would parse; deflate squeezes the padding ~1000:1.
    """
    plain = make_docx(tmp_path / "plain.docx", "Rota", [("Rotation", "Staff rotate every two hours.")])
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            data = source.read(item)
            if item.filename != "word/document.xml":
                bomb.writestr(item, data)
                continue
            head, _, tail = data.partition(b"?>")
            with bomb.open("word/document.xml", "w", force_zip64=True) as out:
                out.write(head + b"?><!--")
                block = b" " * (1024 * 1024)
                for _ in range(inflated_mb):
                    out.write(block)
                out.write(b"-->" + tail)
    return path


# --- YAML front matter --------------------------------------------------------------------------


def test_billion_laughs_front_matter_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "laughs.md"
    path.write_text(billion_laughs(), encoding="utf-8")
    assert len(path.read_bytes()) < 500  # the size of the upload in the issue: 476 bytes
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"invalid YAML front matter: .*anchors and aliases"):
        load_file(path, tmp_path)
    assert time.perf_counter() - started < 0.5


def test_a_single_anchor_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "anchor.md"
    path.write_text("---\ntitle: &t Rota\nalias: *t\n---\nBody text of the note.\n", encoding="utf-8")
    with pytest.raises(LoadError, match="anchors and aliases"):
        load_file(path, tmp_path)


def test_front_matter_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_text("---\ntitle: Big\nnotes: " + "x" * 20_000 + "\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"front matter too large: .*PMA_INGEST__MAX_FRONT_MATTER_BYTES"):
        load_file(path, tmp_path)
    # A larger limit lets the same file in, with the long value cut to max_metadata_chars.
    limits = IngestSettings(max_front_matter_bytes=32_768, max_metadata_chars=200)
    (doc,) = load_file(path, tmp_path, limits)
    assert len(doc.metadata["notes"]) == 200
    assert doc.metadata["notes"].endswith("…")


def test_metadata_values_are_capped_and_only_flat_values_kept(tmp_path: Path) -> None:
    path = tmp_path / "meta.md"
    path.write_text(
        "---\n"
        f"title: {'Long title ' * 300}\n"
        "topic: workforce\n"
        "tags: [rota, reception, [nested, list], {a: map}]\n"
        "contacts: {name: someone, phone: 123}\n"
        "reviewed: 2025-01-10\n"
        f"{'k' * 150}: a key far too long to be a field name\n"
        "---\nBody of the note, long enough to keep.\n",
        encoding="utf-8",
    )
    (doc,) = load_file(path, tmp_path, IngestSettings(max_metadata_chars=120))
    meta = doc.metadata
    assert len(meta["title"]) == 120
    assert meta["topic"] == "workforce"
    assert meta["tags"] == "rota, reception"  # a nested list and a mapping are not scalars
    assert "contacts" not in meta
    assert meta["reviewed"] == "2025-01-10"
    assert not any(len(key) > 100 for key in meta)


def test_alias_bomb_fails_alone_and_the_rest_of_the_run_is_indexed(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "laughs.md").write_text(billion_laughs(), encoding="utf-8")
    (corpus / "rota.md").write_text(GOOD_NOTE, encoding="utf-8")
    settings = make_settings(tmp_path / "data")
    indexer = Indexer(settings, open_store(settings, embedder))
    report = indexer.run([corpus])  # the issue measured 110 s and 8.8 GB for the bomb alone
    assert [f.source for f in report.failed] == ["laughs.md"]
    assert "anchors and aliases" in report.failed[0].error
    assert report.added == 1
    assert report.documents == 1


# --- DOCX -----------------------------------------------------------------------------------------


def test_zip_bomb_docx_is_refused_before_parsing(tmp_path: Path) -> None:
    path = zip_bomb_docx(tmp_path / "bomb.docx", tmp_path, inflated_mb=64)
    assert path.stat().st_size < 200_000  # small on disk, 64 MB once inflated
    started = time.perf_counter()
    with pytest.raises(
        LoadError, match=r"DOCX too large when unzipped: 64\.\d MB .*MAX_DOCX_UNCOMPRESSED_MB"
    ):
        load_file(path, tmp_path)
    assert time.perf_counter() - started < 0.2  # far less than inflating 64 MB and parsing it


def test_docx_within_the_limit_still_loads(tmp_path: Path) -> None:
    path = zip_bomb_docx(tmp_path / "padded.docx", tmp_path, inflated_mb=2)
    (doc,) = load_file(path, tmp_path, IngestSettings(max_docx_uncompressed_mb=5))
    assert "Staff rotate every two hours." in doc.page_content


def test_docx_with_too_many_parts_is_refused(tmp_path: Path) -> None:
    plain = make_docx(tmp_path / "plain.docx", "Rota", [("Rotation", "Staff rotate every two hours.")])
    buffer = io.BytesIO(plain.read_bytes())
    with zipfile.ZipFile(buffer, "a") as package:
        for n in range(50):
            package.writestr(f"customXml/extra{n}.xml", "<x/>")
    path = tmp_path / "parts.docx"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(LoadError, match=r"too many parts: .*PMA_INGEST__MAX_DOCX_MEMBERS"):
        load_file(path, tmp_path, IngestSettings(max_docx_members=40))


# --- PDF and text size --------------------------------------------------------------------------------


def test_pdf_over_the_page_limit_is_refused(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "long.pdf", [f"Page {n} of the staff handbook." for n in range(1, 7)])
    with pytest.raises(
        LoadError, match=r"too many PDF pages: 6 \(limit 5, set by PMA_INGEST__MAX_PDF_PAGES\)"
    ):
        load_file(path, tmp_path, IngestSettings(max_pdf_pages=5))
    assert len(load_file(path, tmp_path, IngestSettings(max_pdf_pages=6))) == 6


def test_pdf_text_over_the_character_limit_is_refused(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "wordy.pdf", ["Overtime is paid at the agreed rate after 37.5 hours a week."] * 4
    )
    with pytest.raises(LoadError, match=r"document too long: .*PMA_INGEST__MAX_DOCUMENT_CHARS"):
        load_file(path, tmp_path, IngestSettings(max_document_chars=150))


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html"])
def test_text_documents_over_the_character_limit_are_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"huge{suffix}"
    path.write_text("Reception staff rotate every two hours. " * 100, encoding="utf-8")
    with pytest.raises(LoadError, match=r"document too long: 4,000 chars \(limit 1,000 chars"):
        load_file(path, tmp_path, IngestSettings(max_document_chars=1_000))


def test_documents_with_too_many_chunks_are_refused_before_embedding(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sections = "\n\n".join(
        f"## Section {n}\n\n" + f"Reception staff in area {n} rotate between the desk and the phones. " * 30
        for n in range(6)
    )
    (corpus / "long.md").write_text(f"# Long handbook\n\n{sections}\n", encoding="utf-8")
    (corpus / "rota.md").write_text(GOOD_NOTE, encoding="utf-8")
    settings = make_settings(tmp_path / "data", ingest__max_chunks_per_document=3)
    report = Indexer(settings, open_store(settings, embedder)).run([corpus])
    assert [f.source for f in report.failed] == ["long.md"]
    assert "too many chunks" in report.failed[0].error
    assert "PMA_INGEST__MAX_CHUNKS_PER_DOCUMENT" in report.failed[0].error
    assert report.added == 1


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMA_INGEST__MAX_PDF_PAGES", "7")
    monkeypatch.setenv("PMA_INGEST__MAX_DOCX_UNCOMPRESSED_MB", "3")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.ingest.max_pdf_pages == 7
    assert settings.ingest.max_docx_uncompressed_mb == 3
    assert settings.ingest.max_front_matter_bytes == IngestSettings().max_front_matter_bytes
