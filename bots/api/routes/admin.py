"""`/v1/admin/*`: upload, delete and re-index documents; read feedback and unanswered questions.

Only present when `PMA_API__ADMIN_TOKEN` is set (404 otherwise) and always behind that bearer token.
Changes to the index are serialised by one per-app lock: two re-indexes (or an upload during a
re-index) racing over the same record manager would only waste work or confuse the report.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from assistant.service import AnswerService
from assistant.types import FeedbackRecord, IngestReport, UnansweredQuestion
from bots.api.deps import MetricsDep, ServiceDep, SettingsDep, require_admin
from bots.api.text_guard import reject_unsafe_text

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin), Depends(reject_unsafe_text)]
)

UPLOAD_PATH = "/v1/admin/documents"
ALLOWED_SUFFIXES = frozenset({".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadResult(BaseModel):
    """The saved file's source id (its path under the data dir, `uploads/<name>`, which is also the id
    `/v1/documents` lists and `DELETE /v1/admin/documents/{source}` takes) and what indexing did."""

    filename: str
    source: str
    report: IngestReport


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


def _ingest_lock(request: Request) -> asyncio.Lock:
    lock: asyncio.Lock = request.app.state.ingest_lock
    return lock


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    responses={
        413: {"description": "Larger than PMA_API__MAX_UPLOAD_MB"},
        415: {"description": "Not PDF, DOCX, HTML, Markdown or text"},
        422: {"description": "The file could not be read; nothing was changed"},
    },
)
async def upload_document(
    file: UploadFile, request: Request, service: ServiceDep, settings: SettingsDep, metrics: MetricsDep
) -> UploadResult:
    """Save an upload under <data_dir>/uploads/ and index it incrementally.

    A file that fails to ingest is removed again (or the earlier version of the same name restored), so
    a bad upload leaves both the folder and the index as they were.
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
    folder = uploads_dir(service)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name

    # Stage outside the uploads folder, so a re-index running meanwhile never sees a half-written file.
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
        async with _ingest_lock(request):
            previous = target.read_bytes() if target.exists() else None
            shutil.move(staging, target)
            report = await run_in_threadpool(service.ingest_paths, [target], folder)
            metrics.observe_ingest(report)
            if report.failed:
                if previous is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_bytes(previous)
                reasons = "; ".join(f.error for f in report.failed)
                raise HTTPException(
                    status_code=422,
                    detail=f"Could not read {name}: {reasons}. Nothing was changed.",
                )
    finally:
        staging.unlink(missing_ok=True)
    return UploadResult(filename=name, source=target.relative_to(data_dir).as_posix(), report=report)


@router.delete("/documents/{source:path}", responses={404: {"description": "Unknown source"}})
async def delete_document(source: str, request: Request, service: ServiceDep) -> DeleteResult:
    """Remove a document's chunks from the index (the service also deletes an uploaded file, so a
    re-index does not bring it back). A corpus document returns on the next re-index unless its file
    is removed from the corpus folder too."""
    async with _ingest_lock(request):
        deleted = await run_in_threadpool(service.delete_document, source)
    if not deleted:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Unknown document source.")
    return DeleteResult(source=source, chunks_deleted=deleted)


@router.post("/reindex")
async def reindex(request: Request, service: ServiceDep, metrics: MetricsDep) -> IngestReport:
    """Re-ingest every known root (corpus and uploads); unchanged documents are skipped."""
    async with _ingest_lock(request):
        report = await run_in_threadpool(service.reindex)
    metrics.observe_ingest(report)
    return report


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
