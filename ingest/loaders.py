"""Turn one file into LangChain Documents of Markdown-like text with flat metadata.

Every loader keeps headings as Markdown heading lines (`#`, `##`, `###`) because the chunker splits
on them, and every loader fails with a `LoadError` whose message a practice manager can act on
("not a valid PDF: …", "empty document") instead of a library traceback. Metadata values are
only `str` or `int` (what Chroma stores); keys whose value is unknown are left out, never `None`.

Every loader gets the `IngestSettings` limits and checks them *before* the work they bound (YAML
composing, unzipping, page extraction), because the files come from uploads: a 476-byte front matter
of nested YAML aliases, or a 300 KB DOCX that inflates to gigabytes, must cost milliseconds and fail
alone with a reason naming the setting, not take the server's memory with it.

`metadata["source"]` is the file's path relative to the ingest root in POSIX form: the key the
indexer uses to find, update and delete a document's chunks, so it must not depend on where the
corpus folder happens to live.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from assistant.config import IngestSettings
from ingest.clean import plain_emphasis, promote_headings, strip_boilerplate
from ingest.pdf_text import paragraph_per_line, pdf_page_texts
from ingest.tables import looks_like_header, markdown_tables_as_rows, row_sentences

Metadata = dict[str, str | int]
Piece = tuple[str, Metadata]  # (page_content, metadata without "source")

RESERVED_KEYS = frozenset({"source", "page"})  # set by the loader, never by a file's own front matter
MAX_TITLE_WORDS = 15


class LoadError(Exception):
    """A file could not be turned into text; the message says why in plain words."""


def _too_big(what: str, size: int, limit: int, setting: str, unit: str = "") -> LoadError:
    return LoadError(f"{what}: {size:,}{unit} (limit {limit:,}{unit}, set by PMA_INGEST__{setting.upper()})")


def check_document_chars(text: str, limits: IngestSettings) -> str:
    """Refuse text longer than `max_document_chars` before it is cleaned, split or chunked."""
    if len(text) > limits.max_document_chars:
        raise _too_big(
            "document too long", len(text), limits.max_document_chars, "max_document_chars", " chars"
        )
    return text


# ---------------------------------------------------------------------------------------------- helpers


def source_key(path: Path, root: Path) -> str:
    """The path of `path` relative to `root` in POSIX form; the file name if it is not under root."""
    for candidate, base in ((path, root), (path.resolve(), root.resolve())):
        try:
            relative = candidate.relative_to(base).as_posix()
        except ValueError:
            continue
        if relative not in ("", "."):
            return relative
    return path.name


def readable_stem(path: Path) -> str:
    """A title made from a file name, for files that carry none: "my-file_name" -> "My file name"."""
    words = " ".join(re.split(r"[-_\s]+", path.stem)).strip()
    return words[:1].upper() + words[1:] if words else path.name


def _reason(exc: BaseException) -> str:
    """A one-line reason from a library exception (some have empty or multi-line messages)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _decode_text(data: bytes, encodings: tuple[str, ...]) -> str:
    """Decode a text file, refusing binaries that were given a text-file name.

    Saved web pages are often cp1252 rather than UTF-8, so .txt/.html try both; Markdown in the
    corpus must be UTF-8, so a .md file that is not is treated as binary rather than guessed at.
    """
    if b"\x00" in data:
        raise LoadError("binary content in a text file")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
        if controls > len(text) * 0.01:
            raise LoadError("binary content in a text file")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise LoadError("binary content in a text file")


def _require_text(text: str) -> str:
    if not text.strip():
        raise LoadError("empty document")
    return text.strip()


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return match.group(1) if match else None


def _short_first_line(text: str) -> str | None:
    """The first line as a title, if it is short enough to be one and more text follows it."""
    first, _, rest = text.strip().partition("\n")
    first = first.strip().lstrip("#").strip()
    if first and rest.strip() and len(first.split()) <= MAX_TITLE_WORDS:
        return first
    return None


def _scalar(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None  # mappings, nested lists and nulls have no flat form


def _meta_value(value: Any, max_chars: int) -> str | int | None:
    """Flatten a YAML value to what Chroma stores: dates as YYYY-MM-DD, a list of scalars joined with
    ", ", text cut to `max_chars` (every chunk carries its document's metadata, so one long value is
    copied into every vector record and every answer's sources)."""
    if isinstance(value, list):
        items = [str(item) for item in map(_scalar, value) if item not in (None, "")]
        flat: str | int | None = ", ".join(items) or None
    else:
        flat = _scalar(value)
    if isinstance(flat, str) and len(flat) > max_chars:
        flat = flat[: max_chars - 1].rstrip() + "…"
    return flat


# ---------------------------------------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses anchors and aliases while composing.

    Safe loading still expands aliases: nine levels of nine aliases each ("billion laughs") are a few
    hundred bytes that become a billion list items once flattened. Front matter never needs them, so
    the first `&anchor` or `*alias` ends the parse before anything is built.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _front_matter(raw: str, limits: IngestSettings) -> dict[Any, Any]:
    size = len(raw.encode("utf-8"))
    if size > limits.max_front_matter_bytes:
        raise _too_big(
            "YAML front matter too large",
            size,
            limits.max_front_matter_bytes,
            "max_front_matter_bytes",
            " bytes",
        )
    try:
        front = yaml.load(raw, Loader=_NoAliasLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML front matter: {_reason(exc)}") from exc
    if front is not None and not isinstance(front, dict):
        raise LoadError("invalid YAML front matter: expected key: value pairs")
    return front or {}


def load_markdown(data: bytes, path: Path, limits: IngestSettings) -> list[Piece]:
    """Corpus notes: YAML front matter becomes metadata, the body is kept as written, except that
    pipe tables become one labelled sentence per row (`ingest.tables`), as in HTML and Word files, and
    emphasis markers are dropped (`ingest.clean.plain_emphasis`)."""
    text = check_document_chars(_decode_text(data, ("utf-8-sig",)), limits)
    meta: Metadata = {}
    match = _FRONT_MATTER.match(text)
    if match:
        for key, value in _front_matter(match.group(1), limits).items():
            flat = _meta_value(value, limits.max_metadata_chars)
            name = str(key)
            if flat not in (None, "") and name not in RESERVED_KEYS and len(name) <= 100:
                meta[name] = flat
        text = text[match.end() :]
    body = markdown_tables_as_rows(plain_emphasis(_require_text(text)))
    meta["title"] = str(meta.get("title") or _first_heading(body) or readable_stem(path))
    return [(body, meta)]


# ---------------------------------------------------------------------------------------------- plain text


def load_text(data: bytes, path: Path, limits: IngestSettings) -> list[Piece]:
    """Plain text, usually a saved web page: strip page furniture, title from a short first line."""
    text = check_document_chars(_decode_text(data, ("utf-8-sig", "cp1252")), limits)
    body = _require_text(strip_boilerplate(text))
    lines = body.strip().split("\n")
    # A saved page often opens with the site's name above the headline: of the opening short lines,
    # the longest is the headline. It becomes the H1; a site name above it is dropped.
    opening = [n for n, ln in enumerate(lines[:3]) if ln.strip() and _short_first_line(ln + "\nx")]
    if opening and len(lines) > 1:
        n = max(opening, key=lambda i: len(lines[i].split()))
        title = lines[n].strip().lstrip("#").strip()
        body = "\n".join([f"# {title}", *lines[n + 1 :]])
        return [(promote_headings(body), {"title": title})]
    return [(promote_headings(body), {"title": readable_stem(path)})]


# ---------------------------------------------------------------------------------------------- HTML


class _HtmlText(HTMLParser):
    """Stdlib fallback for pages trafilatura cannot extract, and the source of <title>/<meta>."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside"})
    SKIP |= frozenset({"form", "button", "select", "iframe"})
    BLOCK = frozenset({"p", "div", "section", "article", "main", "li", "tr", "br", "table", "ul", "ol"})
    BLOCK |= frozenset({"blockquote", "pre", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.meta: dict[str, str] = {}
        self._skip_depth = 0
        self._in_title = False  # only the document's first <title>, never an inline SVG's

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "meta" and attr.get("content"):
            key = (attr.get("property") or attr.get("name") or "").lower()
            self.meta.setdefault(key, attr["content"].strip())
        elif tag == "link" and "canonical" in attr.get("rel", "").lower().split():
            self.meta.setdefault("canonical", attr.get("href", ""))
        if tag == "title" and not self.title and not self._skip_depth:
            self._in_title = True
        if tag in self.SKIP:
            self._skip_depth += 1
        elif tag in self.BLOCK:
            heading = "#" * int(tag[1]) + " " if re.fullmatch(r"h[1-6]", tag) else ""
            self.parts.append("\n\n" + heading)
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip_depth:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = (line.strip().strip("|").strip() for line in "".join(self.parts).split("\n"))
        lines = (re.sub(r"^(#+)\s+", r"\1 ", line) for line in lines)
        return "\n".join(line for line in lines if not line or line.strip("# "))


def _iso_date(value: str) -> str | None:
    match = re.match(r"\d{4}-\d{2}-\d{2}", value.strip())
    return match.group(0) if match else None


def load_html(data: bytes, path: Path, limits: IngestSettings) -> list[Piece]:
    """Main content via trafilatura (drops nav, headers, footers, cookie and share blocks).

    Markdown output keeps headings as `#` lines and tables as pipe rows, which become one labelled
    sentence per row (`ingest.tables`). If trafilatura finds no main content (very short or unusual
    pages) the whole visible text is used instead, minus the obvious page regions, and both go
    through `strip_boilerplate`.
    """
    import trafilatura  # the parsing libraries load with the first file of their kind, not with the server

    html = check_document_chars(_decode_text(data, ("utf-8-sig", "cp1252")), limits)
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    document = html if re.search(r"<body[\s>]", html, re.IGNORECASE) else f"<html><body>{html}</body></html>"
    extracted = trafilatura.extract(  # fragments without <body> lose their headings unless wrapped
        document, output_format="markdown", include_tables=True, with_metadata=False, favor_recall=True
    )
    body = _require_text(strip_boilerplate(extracted or "") or strip_boilerplate(parser.text()))
    body = markdown_tables_as_rows(plain_emphasis(body))
    meta: Metadata = {}
    title = " ".join(parser.title.split()) or parser.meta.get("og:title") or _first_heading(body)
    meta["title"] = title or readable_stem(path)
    url = parser.meta.get("canonical") or parser.meta.get("og:url")
    if url:
        meta["url"] = url
    if parser.meta.get("og:site_name"):
        meta["publisher"] = parser.meta["og:site_name"]
    published = _iso_date(parser.meta.get("article:published_time") or parser.meta.get("date") or "")
    if published:
        meta["published"] = published
    return [(body, meta)]


# ---------------------------------------------------------------------------------------------- PDF


def load_pdf(data: bytes, path: Path, limits: IngestSettings) -> list[Piece]:
    """One piece per page with text (metadata "page" is 1-based), so answers can cite a page.

    Running headers, footers and page numbers are dropped and sentences broken by a page break are
    rejoined (see `ingest.pdf_text`) before headings are found, so none of them is glued into a sentence.

    The page count is checked before any text is extracted, and extraction stops as soon as the text
    so far passes `max_document_chars`.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise LoadError(f"encrypted PDF: {_reason(exc)}") from exc
            if not opened:
                raise LoadError("encrypted PDF: it needs a password")
        if len(reader.pages) > limits.max_pdf_pages:
            raise _too_big("too many PDF pages", len(reader.pages), limits.max_pdf_pages, "max_pdf_pages")
        pages = []
        chars = 0
        for page in reader.pages:
            raw = page.extract_text() or ""
            chars += len(raw)
            if chars > limits.max_document_chars:
                raise _too_big(
                    "document too long", chars, limits.max_document_chars, "max_document_chars", "+ chars"
                )
            pages.append(raw)
        pages = [paragraph_per_line(promote_headings(text)) for text in pdf_page_texts(pages)]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"not a valid PDF: {_reason(exc)}") from exc
    numbered = [(number, text) for number, text in enumerate(pages, start=1) if text]
    if not numbered:
        raise LoadError("empty document: the PDF has no extractable text (a scan needs OCR first)")
    info_title = " ".join(str(info_title).split())
    if info_title.lower().startswith("microsoft word -") or info_title.lower() == "untitled":
        info_title = ""  # a file name that Word wrote in, not a title
    title = info_title or _short_first_line(numbered[0][1]) or readable_stem(path)
    return [(text, {"title": title, "page": number}) for number, text in numbered]


# ---------------------------------------------------------------------------------------------- DOCX


def _docx_table_rows(table: Any) -> list[str]:
    """A Word table as one line per row (see `ingest.tables`), header cells labelling the others.

    A merged cell is one `w:tc` element that python-docx returns for every grid column (and every
    row) it spans: it is written once, under its first column, and a row that is a single merged cell
    (a caption or a sub-heading inside the table) is written as plain text. Cells are told apart by
    element, not text, so two neighbouring cells that say the same ("2 months | 2 months") both stay.
    """
    grid: list[list[str]] = []
    captions: dict[int, str] = {}  # row number -> the text of a row that is one merged cell
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []
        for cell in row.cells:
            cells.append("" if cell._tc in seen else " ".join(cell.text.split()))
            seen.append(cell._tc)
        if len({id(tc) for tc in seen}) == 1 and len(seen) > 1:
            captions[len(grid)] = cells[0]
            cells = [""] * len(cells)
        grid.append(cells)
    marked = bool(table.rows) and bool(table.rows[0]._tr.xpath("./w:trPr/w:tblHeader"))
    header = 0 not in captions and (marked or looks_like_header(grid))
    lines = row_sentences(grid, header=header)
    # Put the caption rows back where they were, as lines of their own.
    out: list[str] = []
    body = iter(lines)
    for n, cells in enumerate(grid):
        if n in captions:
            if captions[n]:
                out.append(captions[n])
        elif not (header and n == 0) and any(cells):
            out.append(next(body))
    return out


def _docx_block(block: Any) -> str:
    """A paragraph as a Markdown line (Title/Heading n -> `#` * n), a table as one line per row."""
    from docx.table import Table

    if isinstance(block, Table):
        return "\n".join(_docx_table_rows(block))
    text = block.text.strip()
    style = block.style.name if block.style is not None else ""
    level = re.fullmatch(r"Heading ([1-6])", style or "")
    if not text:
        return ""
    if style == "Title":
        return f"# {text}"
    if level:
        return "#" * int(level.group(1)) + " " + text
    if (style or "").startswith("List"):
        return f"- {text}"
    return text


def _check_docx_package(data: bytes, limits: IngestSettings) -> None:
    """Refuse a zip bomb from its directory alone, before python-docx inflates anything.

    The sizes in the zip directory can be trusted as a bound: `zipfile` never returns more than a
    member's declared size (a member that inflates past it fails its CRC check instead).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise LoadError("not a valid DOCX: the file is not a Word (Office Open XML) package") from exc
    if len(members) > limits.max_docx_members:
        raise _too_big("DOCX has too many parts", len(members), limits.max_docx_members, "max_docx_members")
    size = sum(member.file_size for member in members)
    limit = limits.max_docx_uncompressed_mb * 1024 * 1024
    if size > limit:
        raise LoadError(
            f"DOCX too large when unzipped: {size / 1048576:,.1f} MB "
            f"(limit {limits.max_docx_uncompressed_mb:,} MB, set by PMA_INGEST__MAX_DOCX_UNCOMPRESSED_MB)"
        )


def load_docx(data: bytes, path: Path, limits: IngestSettings) -> list[Piece]:
    """Word documents in reading order, paragraphs and tables interleaved as in the file."""
    import docx

    _check_docx_package(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [_docx_block(block) for block in document.iter_inner_content()]
        core_title = (document.core_properties.title or "").strip()
    except Exception as exc:
        reason = _reason(exc)
        if type(exc).__name__ == "PackageNotFoundError":
            reason = "the file is not a Word (Office Open XML) package"
        raise LoadError(f"not a valid DOCX: {reason}") from exc
    body = _require_text(check_document_chars("\n\n".join(block for block in blocks if block), limits))
    return [(body, {"title": core_title or _first_heading(body) or readable_stem(path)})]


# ---------------------------------------------------------------------------------------------- entry

LOADERS: dict[str, Callable[[bytes, Path, IngestSettings], list[Piece]]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(LOADERS)


def load_file(path: Path, root: Path, limits: IngestSettings | None = None) -> list[Document]:
    """Load one file as Documents (one per file, or one per page for PDFs).

    Raises LoadError with a human-readable reason for anything that cannot be loaded, or that goes past
    one of the `limits` (the defaults of `IngestSettings` when none are given).
    """
    limits = limits or IngestSettings()
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise LoadError(f"unsupported file type {suffix or '(no extension)'}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read: {(exc.strerror or _reason(exc)).lower()}") from exc
    if not data.strip():
        raise LoadError("empty document")
    source = source_key(path, root)
    return [
        Document(page_content=text, metadata={**meta, "source": source})
        for text, meta in loader(data, path, limits)
    ]
