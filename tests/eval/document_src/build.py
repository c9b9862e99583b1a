"""Rebuild the PDF and DOCX evaluation documents in tests/eval/documents/ from the text sources here.

The committed binaries are what the tests read; this script exists so that a wording change is made
in a readable source and the binary regenerated, never edited by hand. Run from the repository root:

    .venv/bin/python tests/eval/document_src/build.py

Source format (one file per document, UTF-8, Latin-1 characters only for PDFs because the built-in
PDF fonts cover nothing else): an optional block of `key: value` lines (title, header, footer) ended
by a `---` line, then the body. In the body `# ` is a title or heading line (`##`/`###` deeper levels
in DOCX), `- ` a bullet, `| a | b |` a table row, a blank line a paragraph break; any other line is
one paragraph. A source without a metadata block takes its first line as title and running header.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "documents"
FIXED_DATE = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)  # so a rebuild of unchanged text changes nothing

PDF_SOURCES = [
    "north-midshire-icb-resilience-paper",
    "hartley-institute-practice-finances",
    "greenway-annual-report-2024-25",
    "westgate-premises-costs-briefing",
    "brookside-ppg-terms-of-reference",
]
DOCX_SOURCES = [
    "thornbury-sickness-absence-policy",
    "ashcombe-locum-booking-policy",
]
DEFAULT_FOOTER = "Fictional example for testing"


def read_source(name: str) -> tuple[dict[str, str], list[str]]:
    """Metadata and body lines of one source file."""
    text = (HERE / f"{name}.txt").read_text(encoding="utf-8").strip()
    lines = text.split("\n")
    meta: dict[str, str] = {}
    if "---" in lines:
        cut = lines.index("---")
        for line in lines[:cut]:
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
        lines = lines[cut + 1 :]
    else:
        meta = {"title": lines[0].strip(), "header": lines[0].strip()}
    meta.setdefault("footer", DEFAULT_FOOTER)
    return meta, [line.rstrip() for line in lines]


def table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


class RunningPDF(FPDF):
    """A4 pages with the document's running header and a footer carrying "Page n of N"."""

    def __init__(self, header_text: str, footer_text: str) -> None:
        super().__init__(format="A4")
        self.header_text = header_text
        self.footer_text = footer_text
        self.set_auto_page_break(auto=True, margin=22)
        self.set_margins(20, 20, 20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.header_text, align="R", new_x="LMARGIN", new_y="NEXT")
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(6)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.footer_text} | Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def is_short_heading(line: str) -> bool:
    """A bare line that reads as a heading in a source without `#` marks (the older PDF sources)."""
    return len(line.split()) <= 10 and not line.endswith((".", ":", "!", "?", ";", ","))


def build_pdf(name: str) -> Path:
    meta, lines = read_source(name)
    pdf = RunningPDF(meta.get("header", meta["title"]), meta["footer"])
    pdf.set_title(meta["title"])
    pdf.set_author("Fictional example for testing")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()
    marked = any(line.startswith("# ") for line in lines)
    first_block = True
    for n, line in enumerate(lines):
        if not line.strip():
            pdf.ln(3)
            first_block = False
            continue
        if line.startswith("# ") or (not marked and n > 0 and is_short_heading(line)):
            size = 14 if first_block else 12
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(0, 7, line.removeprefix("# ").strip(), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif not marked and n == 0:
            pdf.set_font("Helvetica", "B", 14)
            pdf.multi_cell(0, 7, line.strip(), new_x="LMARGIN", new_y="NEXT")
        elif line.startswith("| "):
            cells = table_cells(line)
            widths = [120, 50] if len(cells) == 2 else [170 / len(cells)] * len(cells)
            pdf.set_font("Helvetica", "", 10)
            for column, (width, cell) in enumerate(zip(widths, cells, strict=True)):
                last = column == len(cells) - 1
                if last:
                    pdf.cell(width, 6, cell, border=1, new_x="LMARGIN", new_y="NEXT")
                else:
                    pdf.cell(width, 6, cell, border=1, new_x="RIGHT", new_y="TOP")
        elif line.startswith("- "):
            pdf.set_font("Helvetica", "", 11)
            pdf.set_x(pdf.l_margin + 5)
            pdf.multi_cell(0, 6, "- " + line[2:].strip(), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, line.strip(), new_x="LMARGIN", new_y="NEXT")
    target = OUT / f"{name}.pdf"
    pdf.output(str(target))
    return target


def build_docx(name: str) -> Path:
    meta, lines = read_source(name)
    document = docx.Document()
    document.core_properties.title = meta["title"]
    document.core_properties.author = "Fictional example for testing"
    document.core_properties.created = FIXED_DATE
    document.core_properties.modified = FIXED_DATE
    document.styles["Normal"].font.size = Pt(11)
    rows: list[list[str]] = []

    def flush_table() -> None:
        if not rows:
            return
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                table.cell(r, c).text = cell
        rows.clear()

    for line in lines:
        if line.startswith("| "):
            rows.append(table_cells(line))
            continue
        flush_table()
        if not line.strip():
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#")) - 1  # "# " -> Title, "## " -> Heading 1
            document.add_heading(line.lstrip("#").strip(), level=level)
        elif line.startswith("- "):
            document.add_paragraph(line[2:].strip(), style="List Bullet")
        else:
            document.add_paragraph(line.strip())
    flush_table()
    target = OUT / f"{name}.docx"
    buffer = io.BytesIO()
    document.save(buffer)
    target.write_bytes(fixed_zip_times(buffer.getvalue()))
    return target


def fixed_zip_times(data: bytes) -> bytes:
    """The same package with every member stamped FIXED_DATE, so unchanged text rebuilds identically."""
    out = io.BytesIO()
    stamp = FIXED_DATE.timetuple()[:6]
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(zipfile.ZipInfo(info.filename, date_time=stamp), source.read(info.filename))
    return out.getvalue()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in PDF_SOURCES:
        print(build_pdf(name).relative_to(HERE.parent))
    for name in DOCX_SOURCES:
        print(build_docx(name).relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
