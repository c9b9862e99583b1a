"""Tables as one sentence per row, each cell labelled with its column's header.

The index and the answers work on sentences. A table flattened to "Session type | Maximum rate
Weekday session | £380 Saturday session | £450 …" becomes one run-on sentence in which no figure can
be told from its neighbour's; "£450" quoted alone means nothing either. A row written as
"Session type: Saturday session; Maximum rate: £450." is a sentence that carries its own meaning, so
it can be retrieved, quoted and cited on its own. A table without a header row is written cell after
cell ("Version: 3.2." for a two-column list of labels and values, "a; b; c." otherwise).

Word files rarely mark a header row (`w:tblHeader` is "repeat as header row" and few set it), so
`looks_like_header` judges the first row from its text; HTML marks its headers with <th>, which
trafilatura writes as a Markdown table with a `|---|` line under the header.
"""

from __future__ import annotations

import re

MAX_HEADER_WORDS = 6  # a column header is a name, not a sentence
_DIGIT = re.compile(r"\d")
_MD_ROW = re.compile(r"^\s*\|.*\|\s*$")
_MD_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _clean(cell: str) -> str:
    return " ".join(cell.split()).rstrip(" .;")


def looks_like_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns, judged from the text alone.

    Every cell of the first row must be a short label without figures or closing punctuation. With
    three or more columns that is enough. A two-column table is just as often a list of labels and
    values ("Version | 3.2", "Owner | R. Smith") whose first row looks the same, so there the first
    row counts as a header only when the values below it are all of one kind and hold a figure while
    the header does not ("Maximum rate" over "£380", "£450"); a list of labels mixes names, dates
    and versions.
    """
    if len(rows) < 2 or len(rows[0]) < 2:
        return False
    header = [_clean(cell) for cell in rows[0]]
    if not all(
        cell and len(cell.split()) <= MAX_HEADER_WORDS and not _DIGIT.search(cell) and cell[-1] not in "!?:"
        for cell in header
    ):
        return False
    if len(header) >= 3:
        return True
    values = [_clean(row[1]) if len(row) > 1 else "" for row in rows[1:] if any(row)]
    if len(values) < 2 or not all(_DIGIT.search(value) for value in values):
        return False
    return len({_lead(value) for value in values}) == 1


def _lead(value: str) -> str:
    """What a value opens with: a figure, a word, or a symbol such as "£" (one column, one kind)."""
    first = value[:1]
    return "figure" if first.isdigit() else "word" if first.isalpha() else first


def row_sentences(rows: list[list[str]], header: bool) -> list[str]:
    """One sentence per body row; `header` says the first row names the columns.

    Cells line up with the header by position; an empty cell (or the continuation of a merged one) is
    left out rather than written as "Full pay: ".
    """
    out: list[str] = []
    names = [_clean(cell) for cell in rows[0]] if header else []
    for row in rows[1:] if header else rows:
        cells = [_clean(cell) for cell in row]
        if not any(cells):
            continue
        last = max(n for n, cell in enumerate(cells) if cell)
        # A question inside the row would end the sentence there: "Key question: "Is it safe?"; …".
        cells = [f'"{c}"' if c.endswith(("?", "!")) and n < last else c for n, c in enumerate(cells)]
        if names:
            labelled = zip(names, cells, strict=False)
            parts = [f"{name}: {cell}" if name else cell for name, cell in labelled if cell]
            text = "; ".join(parts + [cell for cell in cells[len(names) :] if cell])
        elif len(cells) == 2 and all(cells):
            text = f"{cells[0]}: {cells[1]}"
        else:
            text = "; ".join(cell for cell in cells if cell)
        out.append(text if text.endswith(("!", "?")) else text + ".")
    return out


def _md_cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", inner)]


def markdown_tables_as_rows(text: str) -> str:
    """Markdown pipe tables in `text` rewritten as `row_sentences`, one line per row.

    A table has a header only when a `|---|` rule follows its first row, as Markdown requires.
    """
    lines = text.split("\n")
    out: list[str] = []
    n = 0
    while n < len(lines):
        if not _MD_ROW.match(lines[n]):
            out.append(lines[n])
            n += 1
            continue
        block: list[str] = []
        while n < len(lines) and (_MD_ROW.match(lines[n]) or _MD_RULE.match(lines[n])):
            block.append(lines[n])
            n += 1
        header = len(block) > 1 and bool(_MD_RULE.match(block[1]))
        rows = [_md_cells(line) for line in block if not _MD_RULE.match(line)]
        out.extend(row_sentences(rows, header=header and len(rows) > 1))
    return "\n".join(out)
