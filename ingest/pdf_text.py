"""Turn the per-page text pypdf extracts into clean page texts: no running furniture, whole sentences.

A PDF has no paragraphs, only positioned lines, and every page repeats the document's running header
and footer ("Annual Report 2024/25 - Summary", "Confidential | Page 2 of 3"). Left in, the sentence
splitter glues them onto body text: a header onto the second half of a sentence broken by the page,
a footer onto the last sentence of a page. The rules here need nothing but the extracted lines:

- A running line is one that sits among the first or last `EDGE_LINES` lines of at least half of the
  pages (and of two at least), compared with its digits masked, so "Page 2 of 3" and "Page 3 of 3"
  are one line. Comparing page texts is simpler and sturdier than cutting top and bottom margins by
  y-coordinate (pypdf's `visitor_text`): margins differ from file to file, a header can sit low and
  body text high, and some producers write text with coordinates that only a full layout pass would
  resolve. Repetition holds whatever the layout. Bare page numbers ("7", "Page 7", "- 7 -") at a
  page's edge go too, which also covers one-page files where nothing can repeat.
- Lines are rejoined inside a page (`tidy_pdf_text`) and across a page break (`join_page_breaks`):
  when the text before the break does not end a sentence and the text after it continues it, the
  rest of the broken sentence moves back onto the page where it starts, so it is one sentence with
  one page to cite. A heading stranded at the foot of a page moves down to the section it opens.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from assistant.text import split_sentences
from ingest.clean import heading_like

FULL_LINE = 0.85  # a line this close to the page's longest ran into the right margin: it was wrapped
EDGE_LINES = 3  # how far from a page's top or bottom a running header or footer is looked for
MAX_RUNNING_WORDS = 30  # running lines are short; a repeated long line is left for a person to judge

_PAGE_NUMBER = re.compile(
    r"(?:page\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)
_SENTENCE_END = (".", "!", "?", ":", ";")
# A line ending in one of these words never ends a sentence or a heading: the next line continues it,
# even when that line opens with a capital or a figure ("Terms of" / "Reference", "the" / "ICB").
_CONTINUING_WORDS = frozenset(
    {"a", "an", "the", "of", "and", "or", "nor", "than", "per", "via", "whose", "including", "between"}
    | {"its", "their", "our", "your", "my"}
)
# Words a sentence rarely ends on but a short heading may ("What we stand for", "Who we are"): they
# mark a wrap only after a line long enough to be prose.
_LINKING_WORDS = frozenset(
    {"to", "for", "with", "in", "on", "at", "by", "from", "into", "about", "under", "within", "without"}
    | {"is", "are", "was", "were", "be", "been", "will", "would", "shall", "should", "can", "could", "may"}
    | {"must", "has", "have", "had", "that", "which", "who", "where", "when", "if", "but", "not", "all"}
)
_BULLET = re.compile(r"^(?:[-*•▪◦–]\s|#)")
_ITEM_START = re.compile(r"^\(?(?:[a-zA-Z]|[ivx]{1,4}|\d{1,3})[.)]\s")


def _key(line: str) -> str:
    """A line as running headers are compared: case, spacing and the figures in it ignored."""
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _edge_indexes(lines: list[str]) -> list[int]:
    filled = [n for n, line in enumerate(lines) if line]
    return filled[:EDGE_LINES] + filled[-EDGE_LINES:]


def strip_running_lines(pages: list[str]) -> list[str]:
    """The pages without their running headers and footers and without bare page numbers."""
    split = [[line.strip() for line in page.split("\n")] for page in pages]
    counts: Counter[str] = Counter()
    for lines in split:
        counts.update({_key(lines[n]) for n in _edge_indexes(lines)})
    printed = sum(1 for lines in split if any(lines))
    needed = max(2, math.ceil(printed / 2))
    running = {
        key for key, count in counts.items() if count >= needed and len(key.split()) <= MAX_RUNNING_WORDS
    }
    out = []
    for lines in split:
        filled = [n for n, line in enumerate(lines) if line]
        dropped: set[int] = set()
        seen: set[str] = set()
        # From each edge inwards, each running line once a page: a title printed under a header that
        # repeats it ("Complaints policy" over "Complaints policy") is the page's own text and stays.
        for edge in (filled[:EDGE_LINES], filled[::-1][:EDGE_LINES]):
            for n in edge:
                key = _key(lines[n])
                if _PAGE_NUMBER.fullmatch(lines[n]) or (key in running and key not in seen):
                    dropped.add(n)
                    seen.add(key)
        if len(dropped) == len(filled):
            # Furniture frames body text: a page made only of lines that repeat on every page ("Page 3
            # of the handbook." as a page's one line) is that text itself, so it stays whole.
            dropped = set()
        out.append("\n".join(line for n, line in enumerate(lines) if n not in dropped))
    return out


def _continues(before: str, after: str, width: int) -> bool:
    """Whether line `after` carries on the sentence that line `before` leaves open.

    `width` is the length of the page's longest line: a line near it that stops on a word ran into
    the right margin and was wrapped, whatever the next line starts with ("… the practice manager,
    Ruth" / "Bennett, …"; "… out of a possible" / "635. Our …"). Shorter lines join the next only when
    it starts in lower case or they end on a word no sentence or heading ends on.
    """
    if not before or not after or before.endswith((".", "!", "?", ":")):
        return False
    if _BULLET.match(after):
        return False  # "- item", "• item": a list starts or goes on
    if len(before) >= FULL_LINE * width and (before[-1].isalpha() or before[-1] in ",)'\"’”"):
        return True  # not after a figure: a full-width line ending in one is more often a table row
    if _ITEM_START.match(after):
        return False  # "a) item", "(b) item", "2. item" after a short line
    if after[0].islower():
        return True
    last = before.split()[-1].lower()
    if before.endswith(",") or last in _CONTINUING_WORDS:
        return True
    return last in _LINKING_WORDS and len(before) >= 0.6 * width  # not "Who to talk to", a heading


def tidy_pdf_text(text: str) -> str:
    """Undo the line layout of extracted PDF text so sentences are whole again.

    "manage-\\nment" becomes "management", and a line that does not end a sentence (.!?:;) joins the
    next line when that one continues it: it starts in lower case, or the line breaks after a word no
    sentence ends on ("of", "the", "and"), or a line as wide as the page breaks before a figure. A
    capitalised line after a short one stays apart: a new paragraph or heading.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xad", "")
    text = re.sub(r"(?<=[A-Za-z])-[ \t]*\n[ \t]*(?=[a-z])", "", text)
    raw_lines = [re.sub(r"[ \t]+", " ", raw).strip() for raw in text.split("\n")]
    width = max((len(line) for line in raw_lines), default=0)
    lines: list[str] = []
    for line in raw_lines:
        if lines and _continues(lines[-1], line, width):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _first_sentence(line: str) -> tuple[str, str]:
    """`line` cut after its first sentence, by the splitter the index uses."""
    sentences = split_sentences(line)
    first = sentences[0] if sentences else line
    if not line.startswith(first):
        return line, ""
    return first, line[len(first) :].strip()


def join_page_breaks(pages: list[str]) -> list[str]:
    """Put a sentence broken by a page break back together on the page where it starts.

    Only the broken sentence moves, so every other sentence keeps the page it is printed on. Blank
    pages are passed over: a sentence does not continue across one.
    """
    pages = list(pages)
    for n in range(len(pages) - 1):
        here, there = pages[n].rstrip(), pages[n + 1].lstrip()
        if not here or not there:
            continue
        head, _, last = here.rpartition("\n")
        first, _, rest = there.partition("\n")
        if last.endswith("-") and last[-2:-1].isalpha() and first[:1].islower():
            moved, remainder = _first_sentence(first)
            pages[n] = f"{head}\n{last[:-1]}{moved}".lstrip("\n")
        elif _continues(last, first, width=max(len(line) for line in here.split("\n"))):
            moved, remainder = _first_sentence(first)
            pages[n] = f"{here} {moved}"
        elif heading_like(last) and (not head or head.endswith(_SENTENCE_END) or head.endswith("\n")):
            pages[n], pages[n + 1] = head.rstrip(), f"{last}\n{there}"
            continue
        else:
            continue
        pages[n + 1] = f"{remainder}\n{rest}".strip()
    return pages


def pdf_page_texts(pages: list[str]) -> list[str]:
    """Raw per-page text from pypdf -> tidy page texts, in the same order and number."""
    return join_page_breaks([tidy_pdf_text(page) for page in strip_running_lines(pages)])


def paragraph_per_line(text: str) -> str:
    """Every line of tidied PDF text as a paragraph of its own.

    After `tidy_pdf_text` a line is a whole paragraph, a heading, a list item or a table row: the
    wrapped lines are joined already. Left as lines of one block, the sentence splitter reads the block
    as prose and runs a row or an item without a full stop into whatever follows ("… £240,000
    Contingency £135,000 3.2 Element …"); as paragraphs, each is split on its own.
    """
    return "\n\n".join(line for line in text.split("\n") if line.strip())
