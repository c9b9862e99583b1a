"""Build small real documents (PDF, DOCX, HTML, TXT) for tests, with the real libraries.

Import as `from fixtures_docs import make_pdf` (pytest puts tests/ on sys.path while tests/ has no
__init__.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import docx
from fpdf import FPDF


def make_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A text PDF, one string per page; each "\\n" in a page starts a new printed line.

    Text must be Latin-1 (the built-in Helvetica font). An empty string makes a blank page.
    """
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for page in pages:
        pdf.add_page()
        for line in page.split("\n") if page else []:
            pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_docx(
    path: Path,
    title: str,
    sections: Sequence[tuple[str, str] | tuple[str, str, int]],
    table: list[list[str]] | None = None,
    core_title: str | None = None,
) -> Path:
    """A Word file: `title` in the Title style, then (heading, body[, level]) sections.

    Headings use the "Heading <level>" style (level 1 unless given); a body with blank lines
    becomes several paragraphs. `table` rows are appended at the end; `core_title` sets the
    document properties title.
    """
    document = docx.Document()
    if core_title is not None:
        document.core_properties.title = core_title
    if title:
        document.add_heading(title, level=0)
    for heading, body, *level in sections:
        document.add_heading(heading, level=level[0] if level else 1)
        for paragraph in body.split("\n\n"):
            if paragraph.strip():
                document.add_paragraph(paragraph.strip())
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(row) for row in table))
        for row, values in zip(grid.rows, table, strict=False):
            for cell, value in zip(row.cells, values, strict=False):
                cell.text = value
    document.save(str(path))
    return path


def make_corrupt_pdf(path: Path, size: int = 4096) -> Path:
    """Random bytes under a .pdf name (what a failed download or a mis-named file looks like)."""
    path.write_bytes(random.Random(size).randbytes(size))  # seeded: the same bytes every run
    return path


def make_html(path: Path, title: str, body_html: str) -> Path:
    """A UTF-8 HTML page with the given <title> and <body> content."""
    path.write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n{body_html}\n</body></html>\n",
        encoding="utf-8",
    )
    return path


# Words for synthetic notes (ingest, chunking and crash tests): distinct texts without real content.
VOCAB = [
    "practice",
    "manager",
    "rota",
    "staff",
    "funding",
    "contract",
    "claim",
    "patient",
    "clinical",
    "session",
    "pharmacist",
    "nurse",
    "partner",
    "budget",
    "payment",
    "network",
    "quarter",
    "appraisal",
    "training",
    "locum",
    "reception",
    "premises",
    "lease",
    "audit",
    "deadline",
    "estates",
    "telephony",
]

# A one-note corpus for front-door tests that need a real index and nothing more.
ROTA_DOC = """---
title: Quillfield surgery rota policy
topic: workforce
published: 2024-03-04
---
Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone
queue every two hours. The practice manager reviews the Quillfield rota policy each April.
"""
