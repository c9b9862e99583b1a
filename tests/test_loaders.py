"""Loaders against real files made with the real libraries (fpdf2, python-docx, trafilatura)."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
import trafilatura
from fixtures_docs import make_corrupt_pdf, make_docx, make_html, make_pdf
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from assistant.text import split_sentences
from ingest.chunking import chunk_documents
from ingest.clean import promote_headings, strip_boilerplate
from ingest.indexer import scan
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_file, readable_stem
from ingest.pdf_text import tidy_pdf_text


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


class _RunningPdf(FPDF):
    """A4 pages with a running header and a "Page n of N" footer, as word processors print them."""

    def __init__(self, header_text: str, footer_text: str) -> None:
        super().__init__(format="A4")
        self.header_text, self.footer_text = header_text, footer_text
        self.set_auto_page_break(auto=False)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 5, self.header_text, align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"{self.footer_text} | Page {self.page_no()} of {{nb}}", align="C")


def make_running_pdf(path: Path, pages: list[list[str]], header: str, footer: str) -> Path:
    """A PDF whose pages hold exactly the given printed lines, between a running header and footer."""
    pdf = _RunningPdf(header, footer)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.set_font("Helvetica", "B" if line.startswith("**") else "", 11)
            pdf.cell(0, 7, line.strip("*"), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


RUNNING_HEADER = "Riverside Surgery - Staff handbook - March 2025"
RUNNING_FOOTER = "Internal document, not for circulation"


def test_pdf_running_header_footer_dropped_and_page_break_sentence_rejoined(tmp_path: Path) -> None:
    path = make_running_pdf(
        tmp_path / "handbook.pdf",
        [
            [
                "**Staff handbook",
                "This handbook explains how the surgery organises its staff rota and its training days.",
                "The partners agreed that the reception rota will be reviewed by",
                "the practice manager every April.",
                "**1. Annual leave",
                "Staff book annual leave through the rota system at least four weeks ahead. Requests",
                "are approved in the order they arrive, and no more than two receptionists may",
            ],
            [
                "be away in the same week. Leave is not carried over without a partner's agreement.",
                "Bank holidays are added to each person's allowance pro rata.",
                "**2. Training days",
            ],
            [
                "Protected learning time is held on the second Wednesday afternoon of each month.",
                "Reception closes at 1pm on those days and calls go to the out-of-hours service.",
            ],
        ],
        header=RUNNING_HEADER,
        footer=RUNNING_FOOTER,
    )
    docs = load_file(path, tmp_path)
    text = "\n".join(doc.page_content for doc in docs)

    assert [doc.metadata["page"] for doc in docs] == [1, 2, 3]
    for furniture in ("Riverside Surgery -", "March 2025", "not for circulation", "Page 1", "Page 2", "of 3"):
        assert furniture not in text, furniture
    page_one = docs[0].page_content
    # The sentence broken by the first page break is whole, on the page where it starts.
    assert (
        "Requests are approved in the order they arrive, and no more than two receptionists may be away "
        "in the same week." in page_one
    )
    assert docs[1].page_content.startswith("Leave is not carried over without a partner's agreement.")
    # A line broken after "by" joins the next one even though nothing else marks the wrap.
    assert "will be reviewed by the practice manager every April." in page_one
    # A numbered heading stays a heading; one stranded at the foot of a page moves to its section.
    assert "## 1. Annual leave" in page_one.splitlines()
    assert docs[2].page_content.startswith("## 2. Training days\n")
    assert "Training days" not in docs[1].page_content

    chunks = chunk_documents(docs)
    sentences = [s for chunk in chunks for s in split_sentences(chunk.page_content)]
    assert "Staff book annual leave through the rota system at least four weeks ahead." in sentences
    assert not any("Annual leave" in s or "Training days" in s for s in sentences)
    assert {c.metadata["section"] for c in chunks} >= {"1. Annual leave", "2. Training days"}


def test_pdf_bare_page_numbers_dropped_from_a_single_page(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "one.pdf",
        ["Flu clinic rota\nThe flu clinic runs on Saturday mornings from 9am until noon.\n- 1 -"],
    )
    text = load_file(path, tmp_path)[0].page_content
    assert text.endswith("The flu clinic runs on Saturday mornings from 9am until noon.")


def test_numbered_headings_apart_from_their_text_but_numbered_lists_stay_lists() -> None:
    text = promote_headings(
        "3.4 Deficits and reserves\n"
        "Of the practices that responded, 38% reported a deficit in at least one quarter.\n"
        "The steps are:\n"
        "1. Call the duty doctor\n"
        "2. Tell the patient\n"
        "Staff then record the call in the notes of the patient, with the time it was made."
    )
    lines = text.splitlines()
    assert "## 3.4 Deficits and reserves" in lines
    assert "1. Call the duty doctor" in lines
    assert "2. Tell the patient" in lines  # a list item, although a paragraph follows it
    assert "Contingency £135,000" in promote_headings("Contingency £135,000\n" + "A long paragraph. " * 8)
    assert "## Contingency" not in promote_headings("Contingency £135,000\n" + "A long paragraph. " * 8)


def test_label_value_fields_stay_text_and_a_titled_heading_is_still_a_heading() -> None:
    fields = promote_headings(
        "About the job\n\n"
        "Salary: £31,000 to £35,000 a year, depending on experience\n"
        "Hours: full time, 37.5 hours a week, Monday to Friday, with one day a week from home\n"
        "Contract: permanent\n"
    )
    assert "Salary: £31,000 to £35,000 a year, depending on experience" in fields.splitlines()
    assert "## Salary" not in fields
    titled = promote_headings("Meet the team: our new clinical pharmacist\n" + "A long paragraph. " * 8)
    assert "## Meet the team: our new clinical pharmacist" in titled.splitlines()


def test_tidy_pdf_text_joins_a_full_width_line_broken_before_a_figure() -> None:
    text = (
        "Our Quality and Outcomes Framework achievement for 2024/25 was 548 points out of a possible\n"
        "635. Our weakest areas were cervical screening and heart failure reviews, which\n"
        "are priorities.\n"
        "Short line\n"
        "2. Next item"
    )
    assert tidy_pdf_text(text) == (
        "Our Quality and Outcomes Framework achievement for 2024/25 was 548 points out of a possible 635. "
        "Our weakest areas were cervical screening and heart failure reviews, which are priorities.\n"
        "Short line\n2. Next item"
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
        table=[
            ["Role", "Contact"],
            ["Practice manager", "Extension 201"],
            ["Reception lead", "Extension 204"],
        ],
    )
    docs = load_file(path, tmp_path)

    assert len(docs) == 1
    doc = docs[0]
    lines = doc.page_content.splitlines()
    assert "# Reception Induction Pack" in lines
    assert "# Opening hours" in lines
    assert "## Telephone triage" in lines
    assert "The surgery opens at 8am on weekdays." in lines
    assert "Role: Practice manager; Contact: Extension 201." in lines  # a row labelled by its header
    assert "Role | Contact" not in doc.page_content
    assert doc.metadata["source"] == "sub/induction.docx"
    assert doc.metadata["title"] == "Reception Induction Pack"
    assert_flat(doc.metadata)


def test_docx_table_rows_are_labelled_by_the_header_row(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Sick pay depends on length of service, as set out below.")
    pay = document.add_table(rows=4, cols=3)
    for row, values in zip(
        pay.rows,
        [
            ["Length of service", "Full pay", "Half pay"],
            ["Less than 4 months", "None", ""],
            ["", "", ""],
            ["1 to 3 years", "2 months", "2 months"],
        ],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    caption = pay.rows[2].cells[0].merge(pay.rows[2].cells[2])  # a row-wide caption inside the table
    caption.text = "Service with another NHS employer counts"
    document.add_paragraph("Document control")
    control = document.add_table(rows=3, cols=2)  # labels and values: no header row
    labels = [["Policy owner", "Rachel Simmonds"], ["Version", "3.2"], ["Next review", "January 2027"]]
    for row, values in zip(control.rows, labels, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.save(str(tmp_path / "sick-pay.docx"))

    text = load_file(tmp_path / "sick-pay.docx", tmp_path)[0].page_content
    lines = text.splitlines()
    assert "Length of service: Less than 4 months; Full pay: None." in lines  # the empty cell is left out
    assert "Service with another NHS employer counts" in lines
    # Two neighbouring cells that say the same are two cells, not one merged cell.
    assert "Length of service: 1 to 3 years; Full pay: 2 months; Half pay: 2 months." in lines
    assert "Policy owner: Rachel Simmonds." in lines
    assert "Version: 3.2." in lines
    assert "Next review: January 2027." in lines
    assert "|" not in text
    # Each row is its own sentence, also once the chunker has joined them.
    (chunk,) = chunk_documents(load_file(tmp_path / "sick-pay.docx", tmp_path))
    sentences = split_sentences(chunk.page_content)
    assert "Length of service: 1 to 3 years; Full pay: 2 months; Half pay: 2 months." in sentences
    assert "Service with another NHS employer counts" in sentences
    assert "Policy owner: Rachel Simmonds." in sentences


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


def test_html_table_rows_are_labelled_sentences(tmp_path: Path) -> None:
    path = make_html(
        tmp_path / "rates.html",
        "Locum rates",
        "<article><h1>Locum rates</h1><p>" + ARTICLE_PARAGRAPHS[1] + "</p>"
        "<table><thead><tr><th>Session type</th><th>Maximum rate</th></tr></thead><tbody>"
        "<tr><td>Weekday session</td><td>£380</td></tr><tr><td>Saturday session</td><td>£450</td></tr>"
        "</tbody></table><p>" + ARTICLE_PARAGRAPHS[2] + "</p></article>",
    )
    lines = load_file(path, tmp_path)[0].page_content.splitlines()
    assert "Session type: Weekday session; Maximum rate: £380." in lines
    assert "Session type: Saturday session; Maximum rate: £450." in lines
    assert not any(line.startswith("|") for line in lines)


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


def test_markdown_pipe_table_rows_become_labelled_sentences(tmp_path: Path) -> None:
    path = tmp_path / "inspection.md"
    path.write_text(
        "# Inspection summary\n\nThe ratings were published in November.\n\n"
        "| Key question | Rating |\n|---|---|\n| Are services safe? | Requires improvement |\n"
        "| Overall | Good |\n\nThe practice was last inspected in 2017.\n",
        encoding="utf-8",
    )
    (doc,) = load_file(path, tmp_path)
    lines = doc.page_content.splitlines()
    assert 'Key question: "Are services safe?"; Rating: Requires improvement.' in lines
    assert "Key question: Overall; Rating: Good." in lines
    (chunk,) = chunk_documents([doc])
    assert 'Key question: "Are services safe?"; Rating: Requires improvement.' in split_sentences(
        chunk.page_content
    )


def test_pdf_title_under_a_header_that_repeats_it_stays(tmp_path: Path) -> None:
    body = "Complaints are acknowledged within three working days and answered within twenty."
    path = make_running_pdf(
        tmp_path / "complaints.pdf",
        [["**Complaints policy", body], ["Every complaint is logged in the practice complaints register."]],
        header="Complaints policy",
        footer="Version 2",
    )
    docs = load_file(path, tmp_path)
    assert docs[0].page_content == f"## Complaints policy\n\n{body}"
    assert docs[1].page_content == "Every complaint is logged in the practice complaints register."
    assert docs[0].metadata["title"] == "Complaints policy"


def test_markdown_and_html_emphasis_markers_are_not_stored(tmp_path: Path) -> None:
    note = tmp_path / "minutes.md"
    note.write_text(
        "# Board minutes\n\n**Venue:** Kingsmere House, meeting room 2.\n\n"
        "The *General Practice Forward View* committed __£6m__ to development.\n\n"
        "* Actions carried over\n* Item two\n\n"
        "Never paste window.__pmaXss = 1 or window.__pmaXss = 2 from an email, nor a_b_c names.\n",
        encoding="utf-8",
    )
    (doc,) = load_file(note, tmp_path)
    # Underscores opening or inside a word are not emphasis (CommonMark), so code-like text is kept whole.
    assert "Never paste window.__pmaXss = 1 or window.__pmaXss = 2 from an email, nor a_b_c names." in (
        doc.page_content
    )
    assert "Venue: Kingsmere House, meeting room 2." in doc.page_content
    assert "The General Practice Forward View committed £6m to development." in doc.page_content
    assert "* Actions carried over" in doc.page_content  # a list bullet is structure, kept for the splitter
    page = make_html(
        tmp_path / "news.html",
        "News",
        "<article><p>The <strong>deadline</strong> for <em>all practices</em> is 31 March 2026, the"
        " board said in a paper circulated to every practice manager in the area last week.</p></article>",
    )
    (html_doc,) = load_file(page, tmp_path)
    assert "The deadline for all practices is 31 March 2026" in html_doc.page_content
    assert "*" not in html_doc.page_content


def test_enumerators_inside_a_sentence_do_not_split_it() -> None:
    text = "The practice must (a) keep a record of each alert and (b) act within 48 hours. It did (i) both."
    assert split_sentences(text) == [
        "The practice must (a) keep a record of each alert and (b) act within 48 hours.",
        "It did (i) both.",
    ]
    # After a full stop an enumerator opens a new sentence, and a list keeps one item per line.
    assert split_sentences("It ended. (a) A new point starts here.") == [
        "It ended.",
        "(a) A new point starts here.",
    ]
    assert split_sentences("The board agreed:\n(a) to fund it;\n(b) to review it in May.") == [
        "The board agreed:",
        "(a) to fund it;",
        "(b) to review it in May.",
    ]
