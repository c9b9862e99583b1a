"""Heading-aware chunking on generated documents: section paths, chunk sizes, overlap, skipped sections
and metadata. No model needed: chunking is pure text work."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from fixtures_docs import VOCAB, make_pdf
from langchain_core.documents import Document

from assistant.text import split_sentences, word_count
from ingest.chunking import MAX_WORDS, MIN_CHUNK_WORDS, MIN_WORDS, chunk_documents
from ingest.loaders import load_file


def make_sentences(count: int, seed: int = 0, low: int = 8, high: int = 30) -> list[str]:
    """Distinct sentences of `low`-`high` words, numbered so no two are alike."""
    rng = random.Random(seed)
    return [
        f"Rule {seed}-{i} says the {' '.join(rng.choices(VOCAB, k=rng.randint(low, high)))}."
        for i in range(count)
    ]


def doc(body: str, **metadata: str | int) -> Document:
    return Document(page_content=body, metadata={"title": "Guide", "source": "guide.md", **metadata})


def sentences_of(chunk: Document) -> list[str]:
    return split_sentences(chunk.page_content)


# -------------------------------------------------------------------------------- sections and paths


def test_headings_become_section_paths_and_the_title_heading_is_dropped() -> None:
    funding, year, staff = (" ".join(make_sentences(12, seed=s, low=10, high=20)) for s in (1, 2, 3))
    assert all(MIN_WORDS <= word_count(text) <= MAX_WORDS for text in (funding, year, staff))
    body = f"# Guide\n\n## Funding\n\n{funding}\n\n### 2024/25\n\n{year}\n\n## Staffing\n\n{staff}\n"

    chunks = chunk_documents([doc(body)])

    assert [c.metadata["section"] for c in chunks] == ["Funding", "Funding > 2024/25", "Staffing"]
    assert chunks[1].page_content == year
    assert [c.metadata["chunk"] for c in chunks] == [0, 1, 2]


def test_small_neighbouring_sections_are_packed_into_one_chunk() -> None:
    a, b, c = (" ".join(make_sentences(2, seed=s, low=12, high=14)) for s in (4, 5, 6))
    body = f"## Opening hours\n\n{a}\n\n## Phone lines\n\n{b}\n\n## Online requests\n\n{c}\n"

    chunks = chunk_documents([doc(body)])

    assert len(chunks) == 1
    assert chunks[0].metadata["section"] == "Opening hours; Phone lines; Online requests"
    assert chunks[0].page_content == f"{a} {b} {c}"


@pytest.mark.parametrize("heading", ["Sources", "References", "Further reading", "Sources:"])
def test_reference_sections_and_their_subsections_are_skipped(heading: str) -> None:
    content = " ".join(make_sentences(10, seed=7))
    body = (
        f"# Guide\n\n## Claims\n\n{content}\n\n## {heading}\n\n"
        "- NHS England, Network Contract DES specification 2024/25, published March 2024 online\n"
        "- BMA General Practitioners Committee guidance on the contract agreement for this year\n\n"
        "### Online\n\nDepartment of Health and Social Care website pages about the partnership review "
        "and its seven recommendations for general practice in England.\n"
    )

    chunks = chunk_documents([doc(body)])

    assert [c.metadata["section"] for c in chunks] == ["Claims"]
    assert chunks[0].page_content == content
    assert not any(word in chunks[0].page_content for word in ("NHS England", "BMA", "website"))


def test_passages_under_ten_words_make_no_chunk() -> None:
    assert chunk_documents([doc("## Note\n\nCall the surgery first.\n")]) == []
    long_enough = "Call the surgery before nine to book an appointment with the duty doctor."
    assert len(chunk_documents([doc(f"## Note\n\n{long_enough}\n")])) == 1


# -------------------------------------------------------------------------------- long sections


@pytest.mark.parametrize("count", range(14, 120, 3))
def test_long_section_chunks_are_150_to_350_words_with_one_sentence_overlap(count: int) -> None:
    sentences = make_sentences(count, seed=count)
    longest = max(word_count(s) for s in sentences)
    body = "# Guide\n\n## Eligibility\n\n### Long section\n\n" + " ".join(sentences) + "\n"

    chunks = chunk_documents([doc(body)])

    sizes = [word_count(c.page_content) for c in chunks]
    assert all(c.metadata["section"] == "Eligibility > Long section" for c in chunks)
    assert all(size <= MAX_WORDS + longest for size in sizes), sizes
    assert all(size >= MIN_CHUNK_WORDS for size in sizes), sizes
    if sum(word_count(s) for s in sentences) > MAX_WORDS:
        # Roughly 150-350: only the last chunk of a section may be short, and never a stub.
        assert len(chunks) > 1
        assert all(size >= MIN_WORDS for size in sizes[:-1]), sizes
        assert sizes[-1] >= MIN_WORDS // 2, sizes
    # Each chunk starts with the previous chunk's last sentence, and nothing is lost or repeated.
    rebuilt = sentences_of(chunks[0])
    for before, after in itertools.pairwise(chunks):
        assert sentences_of(after)[0] == sentences_of(before)[-1]
        rebuilt += sentences_of(after)[1:]
    assert rebuilt == sentences


def test_overlap_is_one_sentence_even_when_paragraphs_are_short() -> None:
    """Short paragraphs of two sentences each: the overlap is still one sentence, not one paragraph."""
    sentences = make_sentences(60, seed=11, low=6, high=8)
    paragraphs = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    body = "## Appraisals\n\n" + "\n\n".join(paragraphs) + "\n"

    chunks = chunk_documents([doc(body)])

    assert len(chunks) >= 2
    rebuilt = sentences_of(chunks[0])
    for before, after in itertools.pairwise(chunks):
        assert sentences_of(after)[0] == sentences_of(before)[-1]
        assert sentences_of(after)[1] != sentences_of(before)[-1]
        rebuilt += sentences_of(after)[1:]
    assert rebuilt == sentences


# -------------------------------------------------------------------------------- metadata


def test_markdown_metadata_is_carried_by_every_chunk(tmp_path: Path) -> None:
    (tmp_path / "pcn").mkdir()
    path = tmp_path / "pcn" / "arrs-claims.md"
    first, second = (" ".join(make_sentences(10, seed=s, low=12, high=25)) for s in (12, 13))
    assert all(MIN_WORDS <= word_count(text) <= MAX_WORDS for text in (first, second))
    path.write_text(
        "---\ntitle: Claiming ARRS money\ntopic: pcn\npublisher: NHS England\npublished: 2024-04-01\n---\n\n"
        f"# Claiming ARRS money\n\n## Monthly claims\n\n{first}\n\n## Year end\n\n{second}\n\n"
        "## Sources\n\n- NHS England, Network Contract DES 2024/25 specification and guidance\n",
        encoding="utf-8",
    )

    chunks = chunk_documents(load_file(path, tmp_path))

    assert [c.metadata["section"] for c in chunks] == ["Monthly claims", "Year end"]
    for number, chunk in enumerate(chunks):
        assert chunk.metadata["title"] == "Claiming ARRS money"
        assert chunk.metadata["topic"] == "pcn"
        assert chunk.metadata["source"] == "pcn/arrs-claims.md"
        assert chunk.metadata["publisher"] == "NHS England"
        assert chunk.metadata["published"] == "2024-04-01"
        assert chunk.metadata["chunk"] == number


def test_pdf_chunks_keep_their_page_and_are_numbered_across_the_file(tmp_path: Path) -> None:
    pages = [
        "Sickness absence policy for practice staff\n"
        "Staff who are unwell should phone the practice manager before nine on the first day.",
        "A fit note is needed for any absence of more than seven calendar days in a row.",
    ]
    path = make_pdf(tmp_path / "sickness.pdf", pages, title="Sickness absence policy")

    chunks = chunk_documents(load_file(path, tmp_path))

    assert [(c.metadata["page"], c.metadata["chunk"]) for c in chunks] == [(1, 0), (2, 1)]
    assert all(c.metadata["title"] == "Sickness absence policy" for c in chunks)
    assert all(c.metadata["source"] == "sickness.pdf" for c in chunks)
    assert "fit note" in chunks[1].page_content


def test_sentences_without_a_full_stop_stay_apart_in_the_chunk_text() -> None:
    # Titles, list items and captions end without a full stop; joined with a space, the splitter that
    # reads the stored chunk would run each one into the sentence after it.
    body = (
        "## Practice in numbers\n\n"
        "Registered patients on 1 April: 16,450\n"
        "- Appointments delivered: 98,300, of which 61% were face to face\n"
        "- Staff: 74 people, including 7 partners and 6 salaried GPs\n\n"
        "The practice opened its extension in October after two years of building work on the site.\n\n"
        "We will then contact you:\n\n"
        "- on the same day if your problem is urgent;\n"
        "- within 2 working days for routine problems."
    )
    (chunk,) = chunk_documents([doc(body)])
    assert sentences_of(chunk) == [
        "Registered patients on 1 April: 16,450",
        "Appointments delivered: 98,300, of which 61% were face to face",
        "Staff: 74 people, including 7 partners and 6 salaried GPs",
        "The practice opened its extension in October after two years of building work on the site.",
        # After a colon or semicolon the splitter reads on, as in running text: one sentence, as before.
        "We will then contact you: on the same day if your problem is urgent; "
        "within 2 working days for routine problems.",
    ]
