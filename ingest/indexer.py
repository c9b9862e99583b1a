"""Incremental, crash-safe indexing of document trees into the chunk store.

LangChain's indexing API with a SQL record manager decides which chunks to write and delete; a small
`ingested_files` table beside it remembers each file's content digest, so an unchanged file is skipped
without being parsed at all, and `--prune` knows which files came from which root. After every run a
reconcile pass compares the record manager with Chroma and repairs drift (they can drift silently,
langchain issue #39937) — which is also what makes a SIGKILL mid-run harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pathspec
import sqlalchemy as sa
from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.indexing import index

from assistant.config import IngestSettings, Settings
from assistant.store import ChunkStore
from assistant.types import IngestFailure, IngestReport
from ingest.chunking import chunk_documents
from ingest.loaders import LoadError, load_file, source_key

# Bump when loading, chunking or the making of vectors (assistant/store.py) changes what a file turns
# into: every file is then re-chunked, and every chunk re-embedded (the version is part of chunk ids).
PIPELINE_VERSION = "6"
IGNORE_FILE = ".pmaignore"
# The file table's `root` for fetched web pages: not a folder, so re-indexing and --prune never scan it.
WEB_ROOT = "web:"
BATCH_CHUNKS = 128

_metadata = sa.MetaData()
ingested_files = sa.Table(
    "ingested_files",
    _metadata,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("root", sa.String, nullable=False, index=True),
    sa.Column("digest", sa.String, nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
)


def load_and_chunk(path: Path, root: Path, limits: IngestSettings) -> list[Document]:
    """One file's chunks (module-level, so a child process can run it)."""
    return chunk_documents(load_file(path, root, limits))


@dataclass
class Progress:
    """Callbacks the CLI uses to drive its progress bars; all optional."""

    on_files: Callable[[int], None] = lambda _total: None
    on_file_done: Callable[[str], None] = lambda _source: None
    on_chunks: Callable[[int], None] = lambda _total: None
    on_chunks_done: Callable[[int], None] = lambda _n: None


@dataclass
class _Pending:
    path: Path | None  # None for a fetched web document, whose `documents` are already loaded
    root: Path | str
    source: str
    digest: str
    is_new: bool
    chunks: list[Document] = field(default_factory=list)
    documents: list[Document] | None = None


@dataclass
class LoadedSource:
    """A document loaded from somewhere other than a file (a web page): what `index_loaded` takes."""

    source: str
    digest: str
    documents: list[Document]


def _ignore_lines(folder: Path) -> list[str]:
    ignore = folder / IGNORE_FILE
    return ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []


def _ignore_spec(folder: Path, lines: list[str] | None = None) -> pathspec.GitIgnoreSpec | None:
    lines = _ignore_lines(folder) if lines is None else lines
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


_Specs = list[tuple[Path, pathspec.GitIgnoreSpec]]


def _ignored(path: Path, specs: _Specs, *, is_dir: bool) -> bool:
    """Gitignore semantics, each `.pmaignore` relative to its own folder; the deepest file that has
    an opinion about a path (a pattern or a `!` re-include) decides, as in git."""
    for base, spec in reversed(specs):
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        verdict = spec.check_file(rel).include
        if verdict is not None:
            return bool(verdict)
    return False


def scan(root: Path) -> list[Path]:
    """Files under a root (or the root itself), minus hidden files and `.pmaignore` patterns.

    A `.pmaignore` applies to its own folder and everything below it wherever the ingest starts:
    `pm-ingest .` above `corpus/` honours `corpus/.pmaignore`, and `pm-ingest corpus/pcn` honours it
    too (ancestors' files are read). A file or folder named on the command line is always taken.
    """
    if root.is_file():
        return [root]
    root = root.resolve()
    specs: _Specs = []
    for folder in reversed(root.parents):
        # Patterns above the named folder apply inside it, except any that would exclude the folder
        # itself: naming it is asking for it.
        named = root.relative_to(folder).as_posix() + "/"
        lines = [
            ln
            for ln in _ignore_lines(folder)
            if not pathspec.GitIgnoreSpec.from_lines([ln]).check_file(named).include
        ]
        spec = _ignore_spec(folder, lines)
        if spec is not None:
            specs.append((folder, spec))
    found: list[Path] = []
    inherited: dict[Path, _Specs] = {root: specs}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        active = inherited.pop(here)
        spec = _ignore_spec(here)
        if spec is not None:
            active = [*active, (here, spec)]
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not _ignored(here / d, active, is_dir=True)
        )
        for d in dirnames:
            inherited[here / d] = active
        for name in filenames:
            path = here / name
            if name.startswith(".") or not path.is_file() or _ignored(path, active, is_dir=False):
                continue
            found.append(path)
    return sorted(found)


class Indexer:
    """Owns the record manager and the file table; writes go through one `ChunkStore`."""

    def __init__(self, settings: Settings, store: ChunkStore) -> None:
        self.store = store
        self.limits = settings.ingest
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        namespace = f"chroma/{store.chunks.name}"
        self.records = SQLRecordManager(namespace, db_url=settings.record_manager_url)
        self.records.create_schema()
        self.engine = cast(sa.Engine, self.records.engine)  # created from a sync URL
        _metadata.create_all(self.engine)
        self._namespace = namespace
        self._data_dir = settings.data_dir.resolve()

    # --- public ----------------------------------------------------------------------------------
    def run(
        self,
        paths: Iterable[Path],
        *,
        prune: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest files and folders; a folder is its own root, a file's root is its folder.

        A path that does not exist is reported as it was given (`missing/x.md`, not joined to the
        working directory), so the report reads like the command line that produced it.
        """
        targets = []
        report = IngestReport()
        for raw in paths:
            if not raw.exists():
                report.failed.append(IngestFailure(source=str(raw), error="no such file or folder"))
                continue
            path = raw.resolve()
            targets.append((path, path.parent if path.is_file() else path))
        return self.run_targets(targets, prune=prune, dry_run=dry_run, progress=progress, report=report)

    def run_targets(
        self,
        targets: list[tuple[Path, Path]],
        *,
        prune: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest (path to scan, root its sources are relative to) pairs; `report` may carry earlier
        failures of the same command."""
        progress = progress or Progress()
        report = report or IngestReport()
        known = self._known_files()
        pending: list[_Pending] = []
        seen: dict[str, set[str]] = defaultdict(set)  # root -> sources present now
        # root -> path prefixes whose missing sources --prune deletes: a folder prunes what lies under
        # it, a single file prunes nothing (`pm-ingest --prune corpus/new.md` must not empty corpus/).
        prune_scopes: dict[str, set[str]] = defaultdict(set)
        files: list[tuple[Path, Path]] = []
        for path, base in targets:
            if not path.exists():
                report.failed.append(IngestFailure(source=str(path), error="no such file or folder"))
                continue
            seen.setdefault(str(base), set())
            if path.is_dir():
                prefix = "" if path == base else source_key(path, base) + "/"
                prune_scopes[str(base)].add(prefix)
            # The index's own files are never guidance (`pm-ingest .` where ./var is the data dir); the
            # admin uploads kept there are.
            uploads = self._data_dir / "uploads"
            files.extend(
                (p, base)
                for p in scan(path)
                if not p.resolve().is_relative_to(self._data_dir) or p.resolve().is_relative_to(uploads)
            )
        progress.on_files(len(files))
        scanned: dict[str, tuple[Path, Path, str]] = {}  # source -> (path, root, digest) of this run
        for path, base in files:
            source = source_key(path, base)
            if source in scanned:
                if scanned[source][0] != path:  # two roots holding the same relative path
                    report.failed.append(
                        IngestFailure(
                            source=source,
                            error=f"same source name as {scanned[source][0]}; ingest one of them at a time",
                        )
                    )
                progress.on_file_done(source)
                continue
            seen[str(base)].add(source)
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.failed.append(IngestFailure(source=source, error=f"cannot read: {exc.strerror}"))
                progress.on_file_done(source)
                continue
            digest = self.digest(data)
            scanned[source] = (path, base, digest)
            previous = known.get(source)
            if previous and previous[1] == digest:
                report.skipped += 1
                progress.on_file_done(source)
                continue
            pending.append(_Pending(path, base, source, digest, is_new=previous is None))

        stale = [
            source
            for source, (root, _digest) in known.items()
            if prune
            and source not in seen.get(root, ())
            and any(source.startswith(prefix) for prefix in prune_scopes.get(root, ()))
        ]
        if dry_run:
            # Load and chunk (no embedding, no writes) so the report names the files that would fail.
            for item in self._prepare(pending, report, progress):
                if item.is_new:
                    report.added += 1
                else:
                    report.updated += 1
                progress.on_file_done(item.source)
            report.deleted = len(stale)
            return self._totals(report)

        changed = self._index_pending(pending, report, progress)
        for source in stale:
            self.delete_source(source, bump=False)
            report.deleted += 1
        changed = changed or bool(stale)
        repaired = self.reconcile()
        report.repaired = sum(len(found) for found in repaired.values())
        if repaired["sources"]:
            # Sources whose chunks were lost (wholly or in part) and whose files are in this run: index
            # them again now. Their digests are the ones just read, so the next run skips them again.
            retry = [
                _Pending(path, base, source, digest, is_new=False)
                for source, (path, base, digest) in scanned.items()
                if source in repaired["sources"]
            ]
            self._index_pending(retry, IngestReport(), Progress())
        if changed or any(repaired.values()):
            self.store.bump_generation()
        return self._totals(report)

    def digest(self, data: bytes) -> str:
        """A content digest that also changes with the pipeline version and the model, so a bump of
        either makes every file and page "changed" once."""
        salt = f"{PIPELINE_VERSION}:{self.store.embedder.model_id}:".encode()
        return hashlib.sha256(salt + data).hexdigest()

    def known_digest(self, source: str) -> str | None:
        """The digest recorded when `source` was last indexed; None if it is not in the index."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(ingested_files.c.digest).where(ingested_files.c.source == source)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def index_loaded(
        self,
        items: list[LoadedSource],
        *,
        delete: Iterable[str] = (),
        report: IngestReport,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index already-loaded documents (web pages) through the same chunk → embed → record path as
        files, delete the sources in `delete`, then reconcile; recorded under `WEB_ROOT`."""
        known = self._known_files()
        pending = [
            _Pending(
                None, WEB_ROOT, item.source, item.digest, item.source not in known, documents=item.documents
            )
            for item in items
        ]
        changed = self._index_pending(pending, report, progress or Progress())
        for source in delete:
            if self.delete_source(source, bump=False) or source in known:
                report.deleted += 1
                changed = True
        repaired = self.reconcile()  # a lost web page has its row dropped: the next sync fetches it whole
        if changed or any(repaired.values()):
            self.store.bump_generation()
        return self._totals(report)

    def delete_source(self, source: str, *, bump: bool = True) -> int:
        """Remove every chunk of one source; returns how many chunks went."""
        keys = self.records.list_keys(group_ids=[source])
        if keys:
            self.store.delete(keys)
            self.records.delete_keys(keys)
        with self.engine.begin() as conn:
            conn.execute(ingested_files.delete().where(ingested_files.c.source == source))
        if bump and keys:
            self.store.bump_generation()
        return len(keys)

    def indexed_at(self) -> dict[str, float]:
        """When each source's chunks were last written (the record manager's timestamps, epoch s)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT group_id, MAX(updated_at) FROM upsertion_record "
                    "WHERE namespace = :ns GROUP BY group_id"
                ),
                {"ns": self._namespace},
            ).all()
        return {str(g): float(t) for g, t in rows if g is not None}

    def roots(self) -> list[Path]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ingested_files.c.root).distinct()).all()
        return [Path(r[0]) for r in rows if r[0] != WEB_ROOT]

    def reconcile(self) -> dict[str, set[str]]:
        """Make record manager, chunk collection, sentence collection and file table agree.

        Returns what was repaired: orphan chunk ids, stale record keys, orphan sentence ids, and the
        sources whose files must be re-indexed.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT key, group_id FROM upsertion_record WHERE namespace = :ns"),
                {"ns": self._namespace},
            ).all()
        record_groups: dict[str, str] = {str(k): str(g) for k, g in rows}
        chunk_ids = self.store.chunk_ids()
        orphan_chunks = chunk_ids - record_groups.keys()
        stale_records = record_groups.keys() - chunk_ids
        if orphan_chunks:
            self.store.delete(sorted(orphan_chunks))
        stale_sources = {str(record_groups[k]) for k in stale_records}
        if stale_records:
            self.records.delete_keys(sorted(stale_records))
        live = chunk_ids - orphan_chunks
        orphan_sentences = {s for s, owner in self.store.sentence_owner_ids().items() if owner not in live}
        if orphan_sentences:
            self.store.delete_sentence_ids(sorted(orphan_sentences))
        # Files recorded as indexed whose chunks are gone (or half gone) must be indexed again.
        recorded_sources = {str(g) for k, g in record_groups.items() if k not in stale_records}
        with self.engine.begin() as conn:
            listed = {r[0] for r in conn.execute(sa.select(ingested_files.c.source)).all()}
            lost = (listed - recorded_sources) | (stale_sources & listed)
            if lost:
                conn.execute(ingested_files.delete().where(ingested_files.c.source.in_(sorted(lost))))
        return {
            "orphan_chunks": orphan_chunks,
            "stale_records": stale_records,
            "orphan_sentences": orphan_sentences,
            "sources": lost | stale_sources,
        }

    # --- internals ---------------------------------------------------------------------------------
    def _known_files(self) -> dict[str, tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ingested_files.c.source, ingested_files.c.root, ingested_files.c.digest)
            ).all()
        return {source: (root, digest) for source, root, digest in rows}

    def _prepare(self, pending: list[_Pending], report: IngestReport, progress: Progress) -> list[_Pending]:
        """Load and chunk each file; files that fail are reported and left out."""
        ready: list[_Pending] = []
        for item in pending:
            try:
                # Loading and chunking are CPU-bound Python: they run where the embedder runs its
                # model, which for background jobs is a low-priority child, not the serving process.
                run = self.store.embedder.run
                if item.documents is not None:
                    item.chunks = run(chunk_documents, item.documents)
                else:
                    assert item.path is not None
                    assert isinstance(item.root, Path)
                    item.chunks = run(load_and_chunk, item.path, item.root, self.limits)
                if not item.chunks:
                    raise LoadError("no indexable text (every passage is under 10 words)")
                limit = self.limits.max_chunks_per_document
                if len(item.chunks) > limit:
                    raise LoadError(
                        f"too many chunks: {len(item.chunks):,} (limit {limit:,},"
                        " set by PMA_INGEST__MAX_CHUNKS_PER_DOCUMENT)"
                    )
                ready.append(item)
            except LoadError as exc:
                report.failed.append(IngestFailure(source=item.source, error=str(exc)))
                progress.on_file_done(item.source)
            except Exception as exc:  # a loader bug must not lose the rest of the run
                report.failed.append(IngestFailure(source=item.source, error=f"{type(exc).__name__}: {exc}"))
                progress.on_file_done(item.source)
        return ready

    def _index_pending(self, pending: list[_Pending], report: IngestReport, progress: Progress) -> bool:
        ready = self._prepare(pending, report, progress)
        progress.on_chunks(sum(len(item.chunks) for item in ready))
        changed = False
        for batch in _batches(ready):
            docs = [chunk for item in batch for chunk in item.chunks]
            result = index(
                docs,
                self.records,
                self.store,
                cleanup="incremental",
                source_id_key="source",
                key_encoder=_chunk_key,
                batch_size=max(len(docs), 1),
            )
            changed = changed or bool(result["num_added"] or result["num_deleted"])
            with self.engine.begin() as conn:
                for item in batch:
                    conn.execute(ingested_files.delete().where(ingested_files.c.source == item.source))
                    conn.execute(
                        ingested_files.insert().values(
                            source=item.source,
                            root=str(item.root),
                            digest=item.digest,
                            chunks=len(item.chunks),
                        )
                    )
            for item in batch:
                if item.is_new:
                    report.added += 1
                else:
                    report.updated += 1
                progress.on_file_done(item.source)
            progress.on_chunks_done(len(docs))
        return changed

    def _totals(self, report: IngestReport) -> IngestReport:
        with self.engine.connect() as conn:
            report.documents = conn.execute(
                sa.select(sa.func.count(sa.distinct(sa.text("group_id"))))
                .select_from(sa.text("upsertion_record"))
                .where(sa.text("namespace = :ns")),
                {"ns": self._namespace},
            ).scalar_one()
        report.chunks = self.store.chunks.count()
        return report


def _chunk_key(chunk: Document) -> str:
    """A chunk's id: its text, metadata and the pipeline version, so a bump replaces even chunks whose
    text is unchanged (LangChain's own "sha256" key would keep their old vectors)."""
    metadata = json.dumps(chunk.metadata, sort_keys=True, default=str)
    payload = "\x00".join((PIPELINE_VERSION, chunk.page_content, metadata))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _batches(items: list[_Pending]) -> Iterable[list[_Pending]]:
    """Whole files per batch (so incremental cleanup never sees half a file), ~BATCH_CHUNKS chunks each."""
    batch: list[_Pending] = []
    size = 0
    for item in items:
        if batch and size + len(item.chunks) > BATCH_CHUNKS:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item.chunks)
    if batch:
        yield batch
