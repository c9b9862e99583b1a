"""Loaders against real files made with the real libraries (fpdf2, python-docx, trafilatura)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura
from fixtures_docs import make_corrupt_pdf, make_docx, make_html, make_pdf
from pypdf import PdfReader, PdfWriter

from ingest.clean import strip_boilerplate
from ingest.indexer import scan
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_file, readable_stem, tidy_pdf_text


def assert_flat(metadata: dict) -> None:
    """Chroma stores only flat scalars; the contract is str or int and no None."""
    for key, value in metadata.items():
        assert isinstance(value, str | int), (key, value)
        assert value != "", key


def test_supported_suffixes() -> None:
    assert {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"} == SUPPORTED_SUFFIXES


# ------------------------------------------------------------------------------------------------- PDF


def test_pdf_one_document_per_page_with_rejoined_lines(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "staffing-guide.pdf",
        [
            "Practice Staffing Guide\n"
            "The practice manage-\n"
            "ment team should review\n"
            "the reception rota every month.",
            "",  # a blank page is skipped, but page numbers stay true to the file
            "Overtime is paid at the agreed\nrate after 37.5 hours a week.",
        ],
        title="Staffing guide for practices",
    )
    docs = load_file(path, tmp_path)

    assert [doc.metadata["page"] for doc in docs] == [1, 3]
    assert all(doc.metadata["title"] == "Staffing guide for practices" for doc in docs)
    assert all(doc.metadata["source"] == "staffing-guide.pdf" for doc in docs)
    assert (
        "The practice management team should review the reception rota every month." in docs[0].page_content
    )
    # A capitalised line is not joined to the next: it stays a line of its own (here, a heading).
    assert docs[0].page_content.startswith("## Practice Staffing Guide\n")
    assert "Overtime is paid at the agreed rate after 37.5 hours a week." in docs[1].page_content
    for doc in docs:
        assert_flat(doc.metadata)


def test_pdf_title_falls_back_to_first_short_line(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "x.pdf", ["Annual Leave Policy\nStaff may carry over five days."])
    assert load_file(path, tmp_path)[0].metadata["title"] == "Annual Leave Policy"


def test_pdf_without_text_is_an_error(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(LoadError, match="empty document"):
        load_file(path, tmp_path)


def test_pdf_needing_a_password_is_an_error(tmp_path: Path) -> None:
    plain = make_pdf(tmp_path / "plain.pdf", ["Partners' drawings for the year."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(LoadError, match=r"^encrypted PDF: it needs a password$"):
        load_file(tmp_path / "locked.pdf", tmp_path)


def test_tidy_pdf_text_keeps_paragraphs_and_sentence_ends() -> None:
    text = (
        "First sentence ends here.\nSecond starts here and\ncontinues.\n\nNew para-\ngraph: with\nmore text."
    )
    assert tidy_pdf_text(text) == (
        "First sentence ends here.\nSecond starts here and continues.\n\nNew paragraph: with more text."
    )


# ------------------------------------------------------------------------------------------------- DOCX


def test_docx_headings_become_markdown_and_tables_are_kept(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = make_docx(
        tmp_path / "sub" / "induction.docx",
        "Reception Induction Pack",
        [
            ("Opening hours", "The surgery opens at 8am on weekdays."),
            ("Telephone triage", "Urgent calls go to the duty doctor first.", 2),
        ],
        table=[["Role", "Contact"], ["Practice manager", "Extension 201"]],
    )
    docs = load_file(path, tmp_path)

    assert len(docs) == 1
    doc = docs[0]
    lines = doc.page_content.splitlines()
    assert "# Reception Induction Pack" in lines
    assert "# Opening hours" in lines
    assert "## Telephone triage" in lines
    assert "The surgery opens at 8am on weekdays." in lines
    assert "Role | Contact" in lines
    assert "Practice manager | Extension 201" in lines
    assert doc.metadata["source"] == "sub/induction.docx"
    assert doc.metadata["title"] == "Reception Induction Pack"
    assert_flat(doc.metadata)


def test_docx_core_title_wins(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "a.docx", "", [("Section", "Body text.")], core_title="Complaints Policy 2025"
    )
    assert load_file(path, tmp_path)[0].metadata["title"] == "Complaints Policy 2025"


# ------------------------------------------------------------------------------------------------- HTML

ARTICLE_PARAGRAPHS = [
    "From April 2025 every practice must keep its online consultation tool open throughout core hours, "
    "according to the contract letter sent to practices in February.",
    "Practice managers should check their rota so that a named person reviews incoming requests "
    "between 8am and 6.30pm on every weekday, including the lunchtime period.",
    "The British Medical Association said it would monitor how the change affects workload and would "
    "report back to its General Practitioners Committee before the summer.",
]

HTML_BODY = f"""
<header><div class="logo">GP News Online</div><a href="/login">Log in</a></header>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/jobs">Jobs</a></li><li><a href="/events">Events</a></li></ul></nav>
<div class="cookie-banner" id="cookie-consent">
  <p>We use cookies to give you the best experience on our website and to analyse traffic.</p>
  <button>Accept all cookies</button> <button>Manage cookies</button>
</div>
<main>
<article>
  <h1>Online access rules for core hours</h1>
  <p>{ARTICLE_PARAGRAPHS[0]}</p>
  <h2>What practice managers need to do</h2>
  <p>{ARTICLE_PARAGRAPHS[1]}</p>
  <p>{ARTICLE_PARAGRAPHS[2]}</p>
</article>
<div class="share-links"><p>Share this article</p>
  <ul><li><a href="#">Share on Facebook</a></li><li><a href="#">Share on X</a></li>
  <li><a href="#">Share on LinkedIn</a></li></ul></div>
</main>
<footer><p>Copyright 2025 GP News Online Ltd. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms</a> |
<a href="/cookies">Cookies</a></p></footer>
"""


def test_html_keeps_article_and_drops_page_furniture(tmp_path: Path) -> None:
    path = make_html(tmp_path / "online-access.html", "Online access rules | GP News Online", HTML_BODY)
    docs = load_file(path, tmp_path)

    assert len(docs) == 1
    text = docs[0].page_content
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in text
    assert "## What practice managers need to do" in text.splitlines()
    for furniture in (
        "We use cookies",
        "Accept all cookies",
        "Share this article",
        "Share on",
        "Jobs",
        "Log in",
    ):
        assert furniture not in text
    assert "All rights reserved" not in text
    assert docs[0].metadata["title"] == "Online access rules | GP News Online"
    assert_flat(docs[0].metadata)


def test_html_short_page_drops_navigation(tmp_path: Path) -> None:
    path = make_html(
        tmp_path / "tiny.htm",
        "Tiny",
        "<nav>Home | News | Jobs | Events</nav><h2>Flu clinic</h2><p>Saturday 9am.</p>",
    )
    text = load_file(path, tmp_path)[0].page_content
    assert "Saturday 9am." in text
    assert "Jobs" not in text


def test_html_fragment_keeps_its_headings(tmp_path: Path) -> None:
    path = tmp_path / "fragment.html"
    path.write_text("<h2>Flu clinic</h2><p>Saturday 9am at the main surgery.</p>", encoding="utf-8")
    doc = load_file(path, tmp_path)[0]
    assert doc.page_content == "## Flu clinic\n\nSaturday 9am at the main surgery."
    assert doc.metadata["title"] == "Flu clinic"


def test_html_that_is_really_cp1252_text(tmp_path: Path) -> None:
    path = tmp_path / "mis-named_page.html"
    path.write_bytes(
        "Flu clinic on Saturday at 9am.\n\nBring your NHS number \u2013 thank you.".encode("cp1252")
    )
    doc = load_file(path, tmp_path)[0]
    assert "Flu clinic on Saturday at 9am." in doc.page_content
    assert "Bring your NHS number \u2013 thank you." in doc.page_content
    assert doc.metadata == {"title": "Mis named page", "source": "mis-named_page.html"}


def test_html_fallback_when_trafilatura_finds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # trafilatura (with favor_recall) returns text for nearly every page; a stand-in that finds nothing
    # is the only dependable way to reach the plain-text fallback.
    monkeypatch.setattr(trafilatura, "extract", lambda *_args, **_kwargs: None)
    path = make_html(tmp_path / "online-access.html", "Online access rules", HTML_BODY)
    text = load_file(path, tmp_path)[0].page_content

    lines = text.splitlines()
    assert "# Online access rules for core hours" in lines
    assert "## What practice managers need to do" in lines
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in lines
    for furniture in ("GP News Online", "Jobs", "Log in", "We use cookies", "Accept all", "Share", "rights"):
        assert furniture not in text, furniture


# ------------------------------------------------------------------------------------------------- TXT

TXT_PARAGRAPHS = [
    "Practices in England will receive an uplift to the global sum from April, the Department of Health "
    "and Social Care announced on Tuesday after talks with the British Medical Association.",
    "The letter asks practice managers to update their staff pay records by the end of May so that the "
    "uplift can be passed on to salaried GPs and other employed staff.",
    "Practices that use cookies on their own websites must also review their privacy notice and share "
    "the updated version with their patient participation group before the next meeting.",
    "Further guidance on the contract changes will be published by NHS England later in the spring.",
]

SAVED_PAGE = "\n".join(
    [
        "Skip to main content",
        "You are using an outdated browser. Please upgrade your browser to improve your experience.",
        "Home > News > Contract",
        "Home | News | Jobs | Events | Contact",
        "We use cookies to make this site work. Some are essential; others help us improve the site.",
        "Accept all cookies",
        "Cookie settings",
        "",
        "Global sum uplift confirmed for 2025",
        "",
        TXT_PARAGRAPHS[0],
        "",
        "Share this article",
        "Share on Facebook",
        "",
        TXT_PARAGRAPHS[1],
        "",
        "",
        "",
        "",
        TXT_PARAGRAPHS[2],
        "",
        TXT_PARAGRAPHS[3],
        "",
        "Related articles",
        "Sign up to our newsletter",
        "Subscribe",
        "Follow us on X",
        "Back to top",
    ]
)


def test_saved_web_page_text_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "global-sum_uplift.txt"
    path.write_text(SAVED_PAGE, encoding="cp1252")
    doc = load_file(path, tmp_path)[0]

    text = doc.page_content
    for paragraph in TXT_PARAGRAPHS:
        assert paragraph in text  # including the long one that mentions cookies and sharing
    for furniture in [
        "Skip to main content",
        "outdated browser",
        "Home >",
        "Home |",
        "We use cookies",
        "Accept all",
        "Cookie settings",
        "Share this article",
        "Share on Facebook",
        "Related articles",
        "newsletter",
        "Subscribe",
        "Follow us",
        "Back to top",
    ]:
        assert furniture not in text, furniture
    assert "\n\n\n" not in text
    assert doc.metadata == {
        "title": "Global sum uplift confirmed for 2025",
        "source": "global-sum_uplift.txt",
    }


def test_text_title_falls_back_to_file_name(tmp_path: Path) -> None:
    path = tmp_path / "notes" / "staff-rota_summer.txt"
    path.parent.mkdir()
    path.write_text(TXT_PARAGRAPHS[0], encoding="utf-8")
    doc = load_file(path, tmp_path)[0]
    assert doc.metadata == {"title": "Staff rota summer", "source": "notes/staff-rota_summer.txt"}


def test_strip_boilerplate_never_drops_long_lines() -> None:
    line = "Share this article with every partner, because we use cookies rarely and menus are not search."
    assert strip_boilerplate(line + "\nMenu\nSearch\nLog in") == line


def test_readable_stem() -> None:
    assert readable_stem(Path("my-file_name.pdf")) == "My file name"


# ------------------------------------------------------------------------------------------------- Markdown

NOTE = """---
title: GP Partnership Review — the seven recommendations
topic: partnership-review
source_title: GP Partnership Review final report
publisher: Department of Health and Social Care
published: 2019-01-15
reviewed: 2026-11-01
url: https://www.gov.uk/government/publications/gp-partnership-review-final-report
licence: summary written by this project
superseded_by: partnership-review/final-report-2019.md
supersedes: []
tags: [partnership, premises]
---
The review made seven recommendations in January 2019.

## Recommendation 1

Reduce the personal risk of partnership.
"""


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    path = tmp_path / "partnership-review" / "recs.md"
    path.parent.mkdir()
    path.write_text(NOTE, encoding="utf-8")
    docs = load_file(path, tmp_path)

    assert len(docs) == 1
    doc = docs[0]
    assert doc.page_content.startswith("The review made seven recommendations")
    assert "## Recommendation 1" in doc.page_content
    assert "---" not in doc.page_content
    assert "topic:" not in doc.page_content
    meta = doc.metadata
    assert meta["source"] == "partnership-review/recs.md"
    assert meta["title"] == "GP Partnership Review — the seven recommendations"
    assert meta["published"] == "2019-01-15"
    assert meta["reviewed"] == "2026-11-01"
    assert meta["topic"] == "partnership-review"
    assert meta["url"] == "https://www.gov.uk/government/publications/gp-partnership-review-final-report"
    assert meta["superseded_by"] == "partnership-review/final-report-2019.md"
    assert meta["tags"] == "partnership, premises"
    assert "supersedes" not in meta  # empty list: omitted, not ""
    assert_flat(meta)


def test_markdown_without_front_matter_uses_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "plain.markdown"
    path.write_text("# Sick pay rules\n\nStatutory sick pay starts on day four.\n", encoding="utf-8")
    doc = load_file(path, tmp_path)[0]
    assert doc.metadata == {"title": "Sick pay rules", "source": "plain.markdown"}


def test_markdown_invalid_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(LoadError, match="invalid YAML front matter"):
        load_file(path, tmp_path)


def test_corpus_notes_all_load() -> None:
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    notes = [p for p in scan(corpus) if p.suffix == ".md"]  # as ingest sees them (.pmaignore applies)
    if not notes:
        pytest.skip("no corpus in this checkout")
    for note in notes:
        (doc,) = load_file(note, corpus)
        assert doc.metadata["source"] == note.relative_to(corpus).as_posix()
        assert {"title", "topic", "published", "url"} <= doc.metadata.keys()
        assert not doc.page_content.startswith("---")
        assert_flat(doc.metadata)


# ------------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corrupt.pdf", None, r"^not a valid PDF: "),
        (
            "image.md",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
            r"^binary content in a text file$",
        ),
        ("latin.md", b"caf\xe9 \xff\xfe menu", r"^binary content in a text file$"),
        ("empty.md", b"   \n\n  ", r"^empty document$"),
        ("only-front-matter.md", b"---\ntitle: Nothing here\n---\n\n", r"^empty document$"),
        ("data.xyz", b"some data", r"^unsupported file type \.xyz$"),
        ("letter.docx", b"Dear practice manager, this is plain text.", r"^not a valid DOCX: "),
    ],
)
def test_failures_have_clear_messages(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is None:
        make_corrupt_pdf(path)
    else:
        path.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        load_file(path, tmp_path)


def test_missing_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^cannot read: no such file or directory$"):
        load_file(tmp_path / "gone.txt", tmp_path)
