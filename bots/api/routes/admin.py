"""`/v1/admin/*`: upload, delete and re-index documents; follow ingest jobs; read feedback and
unanswered questions.

Only present when `PMA_API__ADMIN_TOKEN` is set (404 otherwise) and always behind that bearer token.
Uploads and re-indexes are background jobs (ingest/jobs.py): the request only saves the file and
queues the work, so indexing never runs on the serving path. Changes to the index are serialised by the
job runner's lock.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from assistant.service import AnswerService
from assistant.types import FeedbackRecord, IngestReport, UnansweredQuestion
from bots.api.deps import MetricsDep, ServiceDep, SettingsDep, require_admin
from bots.api.responses import error
from bots.api.text_guard import reject_unsafe_text
from ingest.jobs import ACTIVE, Job, JobRunner, JobStatus

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin), Depends(reject_unsafe_text)]
)

UPLOAD_PATH = "/v1/admin/documents"
ALLOWED_SUFFIXES = frozenset({".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
WAIT_POLL_S = 0.2


class UploadResult(BaseModel):
    """The saved file's source id (its path under the data dir, `uploads/<name>`, which is also the id
    `/v1/documents` lists and `DELETE /v1/admin/documents/{source}` takes), its indexing job, and — with
    `?wait=true` — what indexing did (`report` is null while the job is still queued or running)."""

    filename: str
    source: str
    report: IngestReport | None = None
    job_id: str
    status: JobStatus


class JobAccepted(BaseModel):
    """A re-index queued: poll `GET /v1/admin/jobs/{job_id}`."""

    job_id: str
    status: JobStatus


class DeleteResult(BaseModel):
    source: str
    chunks_deleted: int


def uploads_dir(service: AnswerService) -> Path:
    """Uploads live under the *service's* data dir (the app's settings could be a modified copy), in the
    folder that re-index walks."""
    return service.settings.data_dir / "uploads"


def safe_filename(name: str | None) -> str:
    """Keep only the last path part and harmless characters: the name becomes a file on our disk."""
    base = Path((name or "").replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, suffix = os.path.splitext(base)
    return f"{stem[:120] or 'upload'}{suffix.lower()}"


def _copy_limited(src: IO[bytes], dest: Path, limit: int) -> int:
    """Copy at most `limit` bytes; return the size, or -1 as soon as the file proves larger."""
    size = 0
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return -1
            out.write(chunk)
    return size


def job_runner(service: AnswerService) -> JobRunner:
    runner: JobRunner = service.jobs()
    return runner


async def finished(runner: JobRunner, job_id: str) -> Job:
    """Wait for a job without holding a thread: on its in-process future, else by polling the table."""
    future = runner.future(job_id)
    if future is not None:
        await asyncio.wrap_future(future)
    while (job := await run_in_threadpool(runner.get, job_id)) is None or job.status in ACTIVE:
        await asyncio.sleep(WAIT_POLL_S)
    return job


@router.post(
    "/documents",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        201: {"description": "With ?wait=true: saved and indexed; `report` says what indexing did"},
        400: error("Not a well-formed multipart/form-data body"),
        413: error("Larger than PMA_API__MAX_UPLOAD_MB"),
        415: error("Not PDF, DOCX, HTML, Markdown or text"),
        422: error("An empty file, or (with ?wait=true) one that could not be read; nothing was changed"),
    },
)
async def upload_document(
    file: UploadFile,
    response: Response,
    service: ServiceDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    wait: Annotated[bool, Query(description="Wait for indexing and return its report")] = False,
) -> UploadResult:
    """Save an upload and index it in a background job (202 with the job id; poll
    `GET /v1/admin/jobs/{job_id}`). With `?wait=true` the request waits for the job instead.

    The job moves the file into <data_dir>/uploads/ and indexes it incrementally. A file that fails to
    ingest is removed again (or the earlier version of the same name restored), so a bad upload leaves
    both the folder and the index as they were; the job reports the reason.
    """
    name = safe_filename(file.filename)
    suffix = Path(name).suffix
    if suffix not in ALLOWED_SUFFIXES:
        raise HTTPException(
            status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Unsupported file type {suffix or '(none)'}: upload PDF, DOCX, HTML, Markdown or TXT.",
        )
    limit = settings.api.max_upload_mb * 1024 * 1024
    data_dir = service.settings.data_dir
    target = uploads_dir(service) / name

    # Staged outside the uploads folder, so a re-index running meanwhile never sees a half-written file;
    # the job moves it into place while it holds the index.
    staging_dir = data_dir / "tmp"
    staging_dir.mkdir(parents=True, exist_ok=True)
    fd, staging_name = tempfile.mkstemp(dir=staging_dir, suffix=suffix)
    os.close(fd)
    staging = Path(staging_name)
    try:
        size = await run_in_threadpool(_copy_limited, file.file, staging, limit)
        if size < 0:
            raise HTTPException(
                status_code=413,
                detail=f"File is larger than the {settings.api.max_upload_mb} MB upload limit.",
            )
        if size == 0:
            raise HTTPException(status_code=422, detail="File is empty.")
        runner = job_runner(service)
        job = await run_in_threadpool(runner.submit_upload, name, staging, metrics.observe_ingest)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    result = UploadResult(
        filename=name, source=target.relative_to(data_dir).as_posix(), job_id=job.id, status=job.status
    )
    if not wait:
        return result
    job = await finished(runner, job.id)
    if job.status != "done":
        raise HTTPException(status_code=422, detail=job.error or f"Indexing {name} failed.")
    response.status_code = status.HTTP_201_CREATED
    return result.model_copy(update={"report": job.report, "status": job.status})


@router.delete("/documents/{source:path}", responses={404: error("Unknown source")})
async def delete_document(source: str, service: ServiceDep) -> DeleteResult:
    """Remove a document's chunks from the index (the service also deletes an uploaded file, so a
    re-index does not bring it back). A corpus document returns on the next re-index unless its file
    is removed from the corpus folder too. Waits for a running ingest job to finish first."""
    runner = job_runner(service)

    def delete() -> int:
        with runner.exclusive():
            return service.delete_document(source)

    deleted = await run_in_threadpool(delete)
    if not deleted:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Unknown document source.")
    return DeleteResult(source=source, chunks_deleted=deleted)


@router.post(
    "/reindex",
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"description": "With ?wait=true: the `pm-ingest --json` report", "model": IngestReport}},
)
async def reindex(
    response: Response,
    service: ServiceDep,
    metrics: MetricsDep,
    wait: Annotated[bool, Query(description="Wait for the re-index and return its report")] = False,
) -> JobAccepted | IngestReport:
    """Re-ingest every known root (corpus and uploads) in a background job; unchanged documents are
    skipped. 202 with the job id; with `?wait=true`, 200 with the report once done."""
    runner = job_runner(service)
    job = await run_in_threadpool(runner.submit_reindex, metrics.observe_ingest)
    if not wait:
        return JobAccepted(job_id=job.id, status=job.status)
    job = await finished(runner, job.id)
    if job.status != "done" or job.report is None:
        raise HTTPException(status_code=500, detail=job.error or "The re-index failed.")
    response.status_code = status.HTTP_200_OK
    response.headers["X-Job-Id"] = job.id
    return job.report


@router.get("/jobs")
async def jobs_list(service: ServiceDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[Job]:
    """Recent upload and re-index jobs, newest first."""
    return await run_in_threadpool(job_runner(service).recent, limit)


@router.get("/jobs/{job_id}", responses={404: error("Unknown job")})
async def job_status(job_id: str, service: ServiceDep) -> Job:
    """One job: status (queued, running, done, failed, interrupted), progress, and the ingest report
    when done. A job interrupted by a server stop is run again at the next start (`attempts` > 1)."""
    job = await run_in_threadpool(job_runner(service).get, job_id)
    if job is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Unknown job id.")
    return job


@router.get("/feedback")
async def feedback_list(
    service: ServiceDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[FeedbackRecord]:
    """Recent ratings, newest first, with the question each one was about."""
    return await run_in_threadpool(service.feedback_list, limit)


@router.get("/unanswered")
async def unanswered(
    service: ServiceDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[UnansweredQuestion]:
    """Questions the assistant refused, most frequent first: the gaps worth filling in the corpus."""
    return await run_in_threadpool(service.unanswered, limit)
