"""Background ingest jobs: admin uploads and re-indexes run here, never on a request's thread.

A `JobRunner` (one per `AnswerService`) runs jobs on a small thread pool (`PMA_INGEST__JOB_WORKERS`,
default 1) and embeds through `ingest.low_priority`, so answers keep their latency while a large
document indexes. Every change to the index — jobs and the admin delete — is serialised by one lock:
two writers over one record manager would only waste work or confuse the reports.

Job state lives in the app database (`jobs` table), so it outlives the process and every API process
sees it. A server killed mid-job leaves its row `running`; the next start (`recover`) marks such rows
`interrupted` and runs them again: an upload re-ingests the file already saved in `uploads/` (or moves
it there first if the kill came before that), a re-index simply re-runs. The indexer's reconcile pass
repairs whatever the kill left half-written and reports the count as `report.repaired`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from assistant import migrate
from assistant.history import jobs as jobs_table
from assistant.store import ChunkStore
from assistant.types import IngestReport
from ingest.indexer import Indexer, Progress
from ingest.low_priority import job_embedder

if TYPE_CHECKING:
    from assistant.service import AnswerService

JobKind = Literal["upload", "reindex", "sync"]
JobStatus = Literal["queued", "running", "done", "failed", "interrupted"]
ACTIVE: frozenset[str] = frozenset({"queued", "running", "interrupted"})
PROGRESS_WRITE_S = 0.5  # at most two progress writes a second per job


class JobProgress(BaseModel):
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0


class Job(BaseModel):
    """What `GET /v1/admin/jobs/{id}` returns. `attempts` above 1 means the job was interrupted (the
    server stopped while it ran) and run again."""

    id: str
    kind: JobKind
    status: JobStatus
    progress: JobProgress = Field(default_factory=JobProgress)
    report: IngestReport | None = None
    error: str | None = None
    source: str | None = Field(default=None, description="For uploads: the document's source id")
    attempts: int = 0
    created_at: str
    updated_at: str


class JobFailed(RuntimeError):
    """A job that ran but could not do its work (e.g. an unreadable upload); the message is the reason
    shown to the admin."""

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_dead(owner: str | None) -> bool:
    """True when the owner ran on this host and its process is gone. Owners on other hosts are left
    alone: only their own restart can tell."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobTable:
    """The `jobs` table in the app database (defined with the other tables in `assistant.history`)."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = sa.create_engine(url, **kwargs)
        migrate.upgrade(self.engine)  # the table comes from the app database's migrations

    def insert(self, kind: JobKind, params: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    kind=kind,
                    status="queued",
                    params=json.dumps(params),
                    progress=JobProgress().model_dump_json(),
                    owner=_me(),
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return job_id

    def claim(self, job_id: str) -> bool:
        """Take a queued or interrupted job for this process; False when another process has it."""
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.status.in_(["queued", "interrupted"]))
                .values(
                    status="running",
                    owner=_me(),
                    attempts=jobs_table.c.attempts + 1,
                    updated_at=_now(),
                )
            )
        return bool(result.rowcount)

    def update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                jobs_table.update().where(jobs_table.c.id == job_id).values(updated_at=_now(), **values)
            )

    def params(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            raw = conn.execute(sa.select(jobs_table.c.params).where(jobs_table.c.id == job_id)).scalar_one()
        params: dict[str, Any] = json.loads(raw)
        return params

    def get(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def recent(self, limit: int) -> list[Job]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(sa.select(jobs_table).order_by(jobs_table.c.created_at.desc()).limit(limit))
                .mappings()
                .all()
            )
        return [_job(r) for r in rows]

    def orphans(self) -> list[str]:
        """Jobs whose process died: `running` ones become `interrupted`; with `queued` ones they are
        returned, oldest first, to be run again."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(jobs_table.c.id, jobs_table.c.status, jobs_table.c.owner)
                .where(jobs_table.c.status.in_(["queued", "running", "interrupted"]))
                .order_by(jobs_table.c.created_at)
            ).all()
            found = []
            for job_id, status, owner in rows:
                if not _owner_dead(owner):
                    continue
                if status == "running":
                    conn.execute(
                        jobs_table.update()
                        .where(jobs_table.c.id == job_id, jobs_table.c.status == "running")
                        .values(status="interrupted", updated_at=_now())
                    )
                found.append(str(job_id))
        return found


def _job(row: Any) -> Job:
    params = json.loads(row["params"])
    return Job(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        progress=JobProgress.model_validate_json(row["progress"]),
        report=IngestReport.model_validate_json(row["report"]) if row["report"] else None,
        error=row["error"],
        source=params.get("source"),
        attempts=row["attempts"] or 0,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class _ProgressWriter:
    """Turns the indexer's progress callbacks into (throttled) writes of the job's row."""

    def __init__(self, table: JobTable, job_id: str) -> None:
        self.table, self.job_id = table, job_id
        self.state = JobProgress()
        self._written = 0.0

    def hooks(self) -> Progress:
        def files(n: int) -> None:
            self.state.files_total = n
            self.write(force=True)

        def file_done(_source: str) -> None:
            self.state.files_done += 1
            self.write()

        def chunks(n: int) -> None:
            self.state.chunks_total = n
            self.write(force=True)

        def chunks_done(n: int) -> None:
            self.state.chunks_done += n
            self.write()

        return Progress(on_files=files, on_file_done=file_done, on_chunks=chunks, on_chunks_done=chunks_done)

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._written >= PROGRESS_WRITE_S:
            self._written = now
            self.table.update(self.job_id, progress=self.state.model_dump_json())


ReportHook = Callable[[IngestReport], None]


class JobRunner:
    """Queues, runs and records ingest jobs for one `AnswerService`."""

    def __init__(self, service: AnswerService) -> None:
        self.service = service
        self.settings = service.settings
        self.table = JobTable(self.settings.app_database_url)
        self._lock = threading.Lock()  # held by every change to the index
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.ingest.job_workers, thread_name_prefix="ingest-job"
        )
        self._futures: dict[str, Future[Job]] = {}
        self._indexer: Indexer | None = None

    # --- submitting and reading ------------------------------------------------------------------
    def submit_upload(self, name: str, staging: Path, on_report: ReportHook | None = None) -> Job:
        """Index a file already written to `staging` (outside uploads/) as `uploads/<name>`."""
        source = f"uploads/{name}"
        job_id = self.table.insert("upload", {"name": name, "staging": str(staging), "source": source})
        return self._schedule(job_id, on_report)

    def submit_reindex(self, on_report: ReportHook | None = None) -> Job:
        return self._schedule(self.table.insert("reindex", {}), on_report)

    def submit_sync(self, on_report: ReportHook | None = None) -> Job:
        """Fetch every web source in the sources file once (`pm-ingest sync`, as a job)."""
        return self._schedule(self.table.insert("sync", {}), on_report)

    def get(self, job_id: str) -> Job | None:
        return self.table.get(job_id)

    def recent(self, limit: int = 50) -> list[Job]:
        return self.table.recent(limit)

    def future(self, job_id: str) -> Future[Job] | None:
        """The in-process handle of a job this runner scheduled (for `?wait=true`)."""
        return self._futures.get(job_id)

    def recover(self) -> list[str]:
        """At start-up: jobs left by a dead process are marked interrupted and run again."""
        # Start the low-priority embedder now, ahead of any job, so the first upload does not wait for it.
        self._pool.submit(self._job_indexer().store.embedder.load)
        found = self.table.orphans()
        for job_id in found:
            self._schedule(job_id, None)
        return found

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the index for a change made outside a job (the admin delete)."""
        with self._lock:
            yield

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- running -----------------------------------------------------------------------------------
    def _schedule(self, job_id: str, on_report: ReportHook | None) -> Job:
        future = self._pool.submit(self._run, job_id, on_report)
        self._futures[job_id] = future
        future.add_done_callback(lambda _f: self._futures.pop(job_id, None))
        job = self.table.get(job_id)
        assert job is not None
        return job

    def _job_indexer(self) -> Indexer:
        """An indexer over the service's Chroma collections that embeds through `low_priority`."""
        if self._indexer is None:
            settings = self.settings
            embedder = job_embedder(settings.ingest, self.service.embedder)
            store = ChunkStore(self.service.store.client, embedder, settings.chroma.collection_prefix)
            self._indexer = Indexer(settings, store)
        return self._indexer

    def _run(self, job_id: str, on_report: ReportHook | None) -> Job:
        if not self.table.claim(job_id):
            job = self.table.get(job_id)
            assert job is not None
            return job
        writer = _ProgressWriter(self.table, job_id)
        try:
            kind = self.table.get(job_id)
            assert kind is not None
            with self._lock:
                if kind.kind == "upload":
                    report = self._upload(job_id, self.table.params(job_id), writer.hooks())
                elif kind.kind == "sync":
                    from ingest.web import sync_configured

                    report = sync_configured(self.settings, self._job_indexer(), writer.hooks())
                else:
                    report = self.service.reindex(indexer=self._job_indexer(), progress=writer.hooks())
            writer.write(force=True)
            # Reported before the job reads as done, so whoever waits on it sees the counts already.
            if on_report:
                on_report(report)
            self.table.update(job_id, status="done", report=report.model_dump_json())
            # Rebuild the lexical index and sentence matrix here, not in the next question's request.
            self.service.cache.current()
        except JobFailed as exc:
            report_json = exc.report.model_dump_json() if exc.report else None
            self.table.update(job_id, status="failed", error=str(exc), report=report_json)
        except Exception as exc:  # a bug must be reported on the job, not lost in a thread
            self.table.update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        job = self.table.get(job_id)
        assert job is not None
        return job

    def _upload(self, job_id: str, params: dict[str, Any], progress: Progress) -> IngestReport:
        """Move the staged file into uploads/ and index it; on failure put back what was there.

        The earlier version of the same name is kept on disk (not in memory) until the new one is
        indexed, so a re-run after a kill can still restore it.
        """
        name, staging = str(params["name"]), Path(params["staging"])
        folder = self.service.uploads_dir
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        backup = self.settings.data_dir / "tmp" / f"{job_id}.previous"
        if staging.exists():
            if target.exists() and not backup.exists():
                shutil.copy2(target, backup)
            os.replace(staging, target)
        elif not target.exists():
            raise JobFailed(f"The uploaded file {name} is gone (the server stopped first); upload it again.")
        report = self.service.ingest_paths([target], folder, indexer=self._job_indexer(), progress=progress)
        if report.failed:
            if backup.exists():
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
            reasons = "; ".join(f.error for f in report.failed)
            raise JobFailed(f"Could not read {name}: {reasons}. Nothing was changed.", report)
        backup.unlink(missing_ok=True)
        return report
