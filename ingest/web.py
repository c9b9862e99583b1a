"""Guidance synced from the web: `sources.yml` entries fetched, loaded and indexed like files.

A page's stable `source` is its final URL after redirects, so two listed URLs that redirect to one page
keep one document. A `web_pages` table beside the file table (same database, kept the same way)
remembers each listed URL's ETag / Last-Modified and the digest of the body they validated, so an
unchanged page costs one 304 and embeds nothing; validators are sent only while that digest is what is
indexed, so a page whose chunks were lost or deleted is fetched whole again. A URL that answers 404/410
on two syncs in a row has its document removed; one miss only marks it.
"""

from __future__ import annotations

import gzip
import io
import re
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.etree import ElementTree

import sqlalchemy as sa
import yaml
from langchain_core.documents import Document
from pydantic import BaseModel, ValidationError, field_validator

from assistant.config import IngestSettings, Settings
from assistant.types import IngestFailure, IngestReport
from ingest.fetch import Fetched, Fetcher, FetchError
from ingest.indexer import Indexer, LoadedSource, Progress
from ingest.loaders import LoadError, Metadata, Piece, load_docx, load_html, load_pdf, load_text

Kind = Literal["page", "pdf", "sitemap"]
Detected = Literal["html", "text", "pdf", "docx", "sitemap"]
MISSES_TO_PRUNE = 2
MAX_SITEMAP_DEPTH = 3  # a sitemap index of sitemap indexes of sitemaps is as deep as sites go
# One sync at a time per process: the schedule and an admin's "sync now" must not interleave writes.
SYNC_LOCK = threading.Lock()

_metadata = sa.MetaData()
web_pages = sa.Table(
    "web_pages",
    _metadata,
    sa.Column("url", sa.String, primary_key=True),  # as listed (or as found in a sitemap)
    sa.Column("source", sa.String, nullable=True),  # its final URL after redirects, when last fetched
    sa.Column("etag", sa.String, nullable=True),
    sa.Column("last_modified", sa.String, nullable=True),
    sa.Column("digest", sa.String, nullable=True),  # of the body the validators belong to
    sa.Column("status", sa.Integer, nullable=True),  # last HTTP status (None: no response)
    sa.Column("misses", sa.Integer, nullable=False, default=0),  # 404/410 on consecutive syncs
    sa.Column("error", sa.String, nullable=True),  # last sync's failure reason, if any
    sa.Column("checked_at", sa.String, nullable=True),
    sa.Column("fetched_at", sa.String, nullable=True),  # when a body was last downloaded
)


class SourcesError(ValueError):
    """The sources file cannot be used; the message says where and why."""


class WebSource(BaseModel):
    """One `sources.yml` entry."""

    url: str
    kind: Kind | None = None  # sniffed from the response when absent
    topic: str | None = None
    publisher: str | None = None
    title: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        value = value.strip()
        if not is_url(value):
            raise ValueError("must start with http:// or https://")
        return value


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def load_sources(path: Path) -> list[WebSource]:
    """Read a sources file: a YAML list of entries (or `{sources: [...]}`)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if isinstance(raw, dict) and "sources" in raw:
        raw = raw["sources"]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SourcesError(f"{path}: expected a list of sources (url, kind, topic, publisher, title)")
    sources = []
    for n, entry in enumerate(raw, start=1):
        try:
            sources.append(WebSource.model_validate(entry if isinstance(entry, dict) else {"url": entry}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise SourcesError(f"{path}: entry {n}: {problems}") from exc
    return sources


# ------------------------------------------------------------------------------------ content types

_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/zip", "application/x-")
_SITEMAP_ROOT = re.compile(rb"<(?:[\w.-]+:)?(urlset|sitemapindex)[\s>]")
_HTML_START = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


def detect(body: bytes, content_type: str) -> Detected | None:
    """What a response is, by magic bytes first (servers mislabel PDFs and Word files), then by the
    Content-Type header, then by the text's own start; None for anything we do not read."""
    ctype = content_type.split(";")[0].strip().lower()
    if body.startswith(b"%PDF-"):
        return "pdf"
    if body.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as package:
                return "docx" if "word/document.xml" in package.namelist() else None
        except zipfile.BadZipFile:
            return None
    if ctype.startswith(_BINARY_TYPES) or b"\x00" in body[:1024]:
        return None
    head = body[:4096]
    if _SITEMAP_ROOT.search(head) and (ctype.endswith("xml") or head.lstrip().startswith(b"<")):
        return "sitemap"
    if ctype in ("text/html", "application/xhtml+xml") or _HTML_START.match(head):
        return "html"
    if ctype == "text/plain":
        return "text"
    return None


_EXPECTED: dict[Kind, frozenset[str]] = {
    "page": frozenset({"html", "text", "docx"}),
    "pdf": frozenset({"pdf"}),
    "sitemap": frozenset({"sitemap"}),
}


def sitemap_urls(body: bytes) -> list[str]:
    """The page (urlset) or sitemap (sitemapindex) URLs a sitemap lists; gzipped ones are opened first.

    Only each entry's own `<loc>` counts: image and video extensions carry `<image:loc>` too."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    try:
        root = ElementTree.fromstring(body)  # expat: no external entities, entity expansion capped
    except ElementTree.ParseError as exc:
        raise LoadError(f"not a valid sitemap: {exc}") from exc
    locs = []
    for entry in root:
        for child in entry:
            if child.tag.rsplit("}", 1)[-1] == "loc" and child.text and is_url(child.text.strip()):
                locs.append(child.text.strip())
    return locs


# ------------------------------------------------------------------------------------ loading


def _page_date(html: bytes) -> str | None:
    """The page's own date (published or last updated) as trafilatura/htmldate find it in the markup."""
    import trafilatura  # loaded with the first page, not with the server

    try:
        found = trafilatura.extract_metadata(html.decode("utf-8", errors="replace"))
    except Exception:  # a date is a nicety; never lose the page over it
        return None
    value = getattr(found, "date", None) if found is not None else None
    return value[:10] if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value) else None


def _pdf_date(body: bytes) -> str | None:
    from pypdf import PdfReader

    try:
        info = PdfReader(io.BytesIO(body)).metadata
        when = info and (info.creation_date or info.modification_date)
    except Exception:
        return None
    return when.date().isoformat() if when else None


def _docx_date(body: bytes) -> str | None:
    import docx

    try:
        props = docx.Document(io.BytesIO(body)).core_properties
        when = props.modified or props.created
    except Exception:
        return None
    return when.date().isoformat() if when else None


def load_fetched(
    fetched: Fetched,
    kind: Detected,
    entry: WebSource,
    fetched_at: str,
    limits: IngestSettings | None = None,
) -> list[Document]:
    """A fetched body as Documents with the page's metadata; `source` and `url` are the final URL.

    A fetched page is bounded by the same `IngestSettings` limits as a file on disk.
    """
    limits = limits or IngestSettings()
    name = PurePosixPath(urlsplit(fetched.url).path).name or urlsplit(fetched.url).hostname or "page"
    path = Path(name)
    pieces: list[Piece]
    date: str | None
    if kind == "html":
        pieces, date = load_html(fetched.body, path, limits), _page_date(fetched.body)
    elif kind == "pdf":
        pieces, date = load_pdf(fetched.body, path, limits), _pdf_date(fetched.body)
    elif kind == "docx":
        pieces, date = load_docx(fetched.body, path, limits), _docx_date(fetched.body)
    else:
        pieces, date = load_text(fetched.body, path, limits), None
    extra: Metadata = {"url": fetched.url, "source": fetched.url, "fetched_at": fetched_at}
    for key, value in (("topic", entry.topic), ("publisher", entry.publisher), ("title", entry.title)):
        if value:
            extra[key] = value
    docs = []
    for text, meta in pieces:
        merged: dict[str, Any] = {**meta, **extra}
        if date and "published" not in merged:
            merged["published"] = date
        docs.append(Document(page_content=text, metadata=merged))
    return docs


# ------------------------------------------------------------------------------------ the sync


@dataclass
class _Job:
    url: str
    entry: WebSource
    depth: int = 0


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class WebSync:
    """One sync run over a list of sources, writing through an `Indexer`."""

    def __init__(self, settings: Settings, indexer: Indexer) -> None:
        self.settings = settings
        self.indexer = indexer
        _metadata.create_all(indexer.engine)

    def state(self) -> dict[str, dict[str, Any]]:
        """Every URL's last sync result (for the admin console's Sources page)."""
        with self.indexer.engine.connect() as conn:
            rows = conn.execute(sa.select(web_pages)).mappings().all()
        return {str(row["url"]): dict(row) for row in rows}

    def run(
        self,
        sources: Iterable[WebSource],
        *,
        report: IngestReport | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        report = report or IngestReport()
        progress = progress or Progress()
        queue = [_Job(entry.url, entry) for entry in sources]
        state = self.state()
        checked_at = _now()
        done: set[str] = set()
        finals: set[str] = set()  # final URLs handled in this run
        loaded: list[LoadedSource] = []
        updates: dict[str, dict[str, Any]] = {}  # url -> web_pages values, written after indexing
        gone: dict[str, str] = {}  # url -> source to delete (missing twice)
        progress.on_files(len(queue))
        with Fetcher(self.settings.sync) as fetcher:
            while queue:
                job = queue.pop(0)
                if job.url in done:
                    progress.on_file_done(job.url)
                    continue
                done.add(job.url)
                row = state.get(job.url, {})
                update: dict[str, Any] = {"checked_at": checked_at, "misses": 0, "error": None}
                try:
                    fetched = fetcher.get(job.url, **self._validators(row))
                    update["status"] = fetched.status
                    if fetched.status in (404, 410):
                        misses = int(row.get("misses") or 0) + 1
                        update |= {"misses": misses, "etag": None, "last_modified": None, "digest": None}
                        if misses >= MISSES_TO_PRUNE and row.get("source"):
                            gone[job.url] = str(row["source"])
                            update["source"] = None
                            raise FetchError(
                                f"HTTP {fetched.status}: missing on {misses} syncs in a row; "
                                "removed from the index"
                            )
                        raise FetchError(
                            f"HTTP {fetched.status}: kept for now; removed if still missing next sync"
                        )
                    if fetched.status == 304:
                        report.not_modified += 1
                        finals.add(str(row.get("source") or fetched.url))
                        update |= {"etag": fetched.etag or row.get("etag")}
                    else:
                        item = self._handle(job, fetched, report, queue, finals, update)
                        if item is not None:
                            loaded.append(item)
                except (FetchError, LoadError) as exc:
                    update["error"] = str(exc)
                    report.failed.append(IngestFailure(source=job.url, error=str(exc)))
                updates[job.url] = update
                progress.on_files(len(done) + len(queue))
                progress.on_file_done(job.url)

        # A source stays if another listed URL still reached it in this run.
        delete = {source for source in gone.values() if source not in finals}
        before = len(report.failed)
        self.indexer.index_loaded(loaded, delete=sorted(delete), report=report, progress=progress)
        # A page that failed while being chunked is reported under the URL it was listed as, and keeps
        # no validators, so the next sync fetches it whole again.
        for failure in report.failed[before:]:
            listed = [url for url, update in updates.items() if update.get("source") == failure.source]
            for url in listed:
                updates[url] |= {"etag": None, "last_modified": None, "digest": None, "error": failure.error}
            if listed:
                failure.source = listed[0]
        self._save(updates)
        return report

    # --- internals -------------------------------------------------------------------------------
    def _validators(self, row: dict[str, Any]) -> dict[str, str | None]:
        """Conditional headers only while what they validate is what is indexed."""
        source, digest = row.get("source"), row.get("digest")
        if not source or not digest or self.indexer.known_digest(str(source)) != digest:
            return {}
        return {"etag": row.get("etag"), "last_modified": row.get("last_modified")}

    def _handle(
        self,
        job: _Job,
        fetched: Fetched,
        report: IngestReport,
        queue: list[_Job],
        finals: set[str],
        update: dict[str, Any],
    ) -> LoadedSource | None:
        """A 200 response: expand a sitemap, or decide whether the page needs indexing."""
        kind = detect(fetched.body, fetched.content_type)
        ctype = fetched.content_type.split(";")[0].strip() or "no content type"
        if kind is None:
            raise FetchError(f"wrong type: {ctype} is not a web page, PDF, Word document or sitemap")
        expected = job.entry.kind
        if expected is not None and kind not in _EXPECTED[expected]:
            raise FetchError(f"wrong type: expected a {expected}, got {kind} ({ctype})")
        if kind == "sitemap":
            if job.depth >= MAX_SITEMAP_DEPTH:
                raise FetchError("sitemaps nested too deeply")
            urls = sitemap_urls(fetched.body)
            page = job.entry.model_copy(update={"kind": None, "title": None})
            queue.extend(_Job(url, page, job.depth + 1) for url in urls)
            update["source"] = None
            return None
        digest = self.indexer.digest(fetched.body)
        update |= {
            "source": fetched.url,
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "digest": digest,
            "fetched_at": _now(),
        }
        if fetched.url in finals:  # another listed URL redirected here earlier in this run
            report.skipped += 1
            return None
        finals.add(fetched.url)
        if self.indexer.known_digest(fetched.url) == digest:
            report.not_modified += 1
            return None
        docs = load_fetched(fetched, kind, job.entry, update["fetched_at"], self.settings.ingest)
        return LoadedSource(fetched.url, digest, docs)

    def _save(self, updates: dict[str, dict[str, Any]]) -> None:
        with self.indexer.engine.begin() as conn:
            for url, values in updates.items():
                changed = conn.execute(web_pages.update().where(web_pages.c.url == url).values(**values))
                if not changed.rowcount:
                    conn.execute(web_pages.insert().values(url=url, **values))


class SourceStatus(BaseModel):
    """A web source and its last sync, as the console's Sources page shows it (`GET /v1/admin/sources`).
    Pages found through a configured sitemap are listed too, with `from_sitemap: true`."""

    url: str
    kind: str | None = None
    topic: str | None = None
    publisher: str | None = None
    title: str | None = None
    source: str | None = None  # the final URL after redirects, once fetched
    status: int | None = None  # last HTTP status
    result: str = "not synced yet"
    misses: int = 0
    last_synced: str | None = None  # checked_at
    fetched_at: str | None = None
    from_sitemap: bool = False


def _result(row: dict[str, Any]) -> str:
    if row.get("error"):
        return str(row["error"])
    code = row.get("status")
    return {200: "fetched", 304: "not modified"}.get(code, f"HTTP {code}") if code else "not synced yet"


def source_statuses(settings: Settings, indexer: Indexer) -> list[SourceStatus]:
    """The sources file's entries (none when the file is absent) with what their last sync did."""
    path = settings.sync.sources_path
    entries = load_sources(path) if path.exists() else []
    _metadata.create_all(indexer.engine)
    state = WebSync(settings, indexer).state()
    out = []
    for entry in entries:
        row = state.pop(entry.url, {})
        out.append(_status(entry.model_dump(), row, from_sitemap=False))
    for url, row in sorted(state.items()):
        out.append(_status({"url": url}, row, from_sitemap=True))
    return out


def _status(entry: dict[str, Any], row: dict[str, Any], *, from_sitemap: bool) -> SourceStatus:
    return SourceStatus(
        **entry,
        source=row.get("source"),
        status=row.get("status"),
        result=_result(row),
        misses=row.get("misses") or 0,
        last_synced=row.get("checked_at"),
        fetched_at=row.get("fetched_at"),
        from_sitemap=from_sitemap,
    )


def last_synced(indexer: Indexer) -> datetime | None:
    """When any web source was last checked (None: never), for the schedule's first run."""
    _metadata.create_all(indexer.engine)
    with indexer.engine.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(web_pages.c.checked_at))).scalar_one_or_none()
    return datetime.fromisoformat(value) if value else None


def sync_urls(
    settings: Settings,
    indexer: Indexer,
    sources: Iterable[WebSource],
    *,
    report: IngestReport | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch and index these sources once (one sync at a time per process)."""
    with SYNC_LOCK:
        return WebSync(settings, indexer).run(sources, report=report, progress=progress)


def sync_configured(settings: Settings, indexer: Indexer, progress: Progress | None = None) -> IngestReport:
    """`pm-ingest sync`: every source in the configured sources file once."""
    return sync_urls(settings, indexer, load_sources(settings.sync.sources_path), progress=progress)
