"""What the maintainers' console (`/admin`) reads and writes beyond the upload/delete routes: the
document catalogue with review flags, approved answers, the gaps report, and the web sources with their
sync. All behind the admin bearer token, like every `/v1/admin/*` route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.approved import ApprovedAnswer, ApprovedAnswerError, ApprovedAnswerIn, UnknownApprovedAnswer
from assistant.catalogue import CatalogueEntry
from assistant.gaps import GapGroup
from assistant.service import AnswerService
from assistant.types import IngestReport
from bots.api.deps import MetricsDep, ServiceDep, require_admin
from bots.api.responses import error
from bots.api.routes.admin import JobAccepted, finished, job_runner
from bots.api.text_guard import reject_unsafe_text
from ingest.web import SourcesError, SourceStatus, source_statuses

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin), Depends(reject_unsafe_text)]
)
INVALID_ANSWER = error("Invalid fields, or sources that name no indexed document")


class ApprovedAnswerOut(ApprovedAnswer):
    missing_sources: list[str] = Field(
        default_factory=list,
        description="Cited documents no longer indexed: the answer is not served until they are fixed.",
    )


class SourcesList(BaseModel):
    sources_file: str = Field(description="PMA_SYNC__SOURCES_PATH")
    configured: bool = Field(description="Whether the sources file exists")
    sources: list[SourceStatus] = Field(default_factory=list)


def _out(service: AnswerService, item: ApprovedAnswer) -> ApprovedAnswerOut:
    return ApprovedAnswerOut(**item.model_dump(), missing_sources=service.approved.missing_sources(item))


def _unknown(answer_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"No approved answer has id {answer_id!r}.")


@router.get("/documents")
async def catalogue(service: ServiceDep) -> list[CatalogueEntry]:
    """Every indexed document with `review_due` (not reviewed within PMA_CORPUS__REVIEW_MONTHS),
    `superseded` and when its chunks were last written."""
    return await run_in_threadpool(service.catalogue)


@router.get("/answers")
async def list_answers(service: ServiceDep) -> list[ApprovedAnswerOut]:
    """Every approved answer, retired ones included (`retired: true`), newest approval first."""
    items = await run_in_threadpool(service.approved.all)
    return [_out(service, item) for item in items]


@router.post(
    "/answers",
    status_code=status.HTTP_201_CREATED,
    responses={422: INVALID_ANSWER},
)
async def create_answer(body: ApprovedAnswerIn, service: ServiceDep) -> ApprovedAnswerOut:
    """Approve an answer. `sources` are documents' `source` keys (as `/v1/documents` lists them); `[n]` in
    the answer cites the n-th. The review date defaults to PMA_CORPUS__REVIEW_MONTHS after approval."""
    try:
        item = await run_in_threadpool(service.approved.create, body)
    except ApprovedAnswerError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return _out(service, item)


@router.get("/answers/{answer_id}", responses={404: error("Unknown id")})
async def get_answer(answer_id: str, service: ServiceDep) -> ApprovedAnswerOut:
    try:
        return _out(service, await run_in_threadpool(service.approved.get, answer_id))
    except UnknownApprovedAnswer as exc:
        raise _unknown(answer_id) from exc


@router.put(
    "/answers/{answer_id}",
    responses={404: error("Unknown id"), 422: INVALID_ANSWER},
)
async def update_answer(answer_id: str, body: ApprovedAnswerIn, service: ServiceDep) -> ApprovedAnswerOut:
    """Replace an approved answer's fields (send `retired: false` to bring a retired one back)."""
    try:
        item = await run_in_threadpool(service.approved.update, answer_id, body)
    except UnknownApprovedAnswer as exc:
        raise _unknown(answer_id) from exc
    except ApprovedAnswerError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return _out(service, item)


@router.delete("/answers/{answer_id}", responses={404: error("Unknown id")})
async def retire_answer(
    answer_id: str, service: ServiceDep, purge: Annotated[bool, Query()] = False
) -> ApprovedAnswerOut:
    """Retire: never served again, still listed with `retired: true`. `?purge=true` deletes it outright
    (and returns what was deleted)."""
    try:
        item = await run_in_threadpool(service.approved.get, answer_id)
        if purge:
            await run_in_threadpool(service.approved.delete, answer_id)
            return _out(service, item)
        return _out(service, await run_in_threadpool(service.approved.retire, answer_id))
    except UnknownApprovedAnswer as exc:
        raise _unknown(answer_id) from exc


@router.get("/gaps")
async def gaps(service: ServiceDep, limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[GapGroup]:
    """Refused and thumbs-down questions grouped by similarity (PMA_ANSWER__GAP_GROUP_SIMILARITY), most
    frequent first, with the answers given and users' comments."""
    return await run_in_threadpool(service.gaps, limit)


@router.get("/sources")
async def sources(service: ServiceDep) -> SourcesList:
    """The web sources from the sources file, with their last sync result."""
    path = service.settings.sync.sources_path
    try:
        found = await run_in_threadpool(source_statuses, service.settings, service.indexer())
    except SourcesError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return SourcesList(sources_file=str(path), configured=path.exists(), sources=found)


@router.post(
    "/sources/sync",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "With ?wait=true: the `pm-ingest sync --json` report", "model": IngestReport},
        409: error("No sources file"),
    },
)
async def sync_sources(
    response: Response,
    service: ServiceDep,
    metrics: MetricsDep,
    wait: Annotated[bool, Query(description="Wait for the sync and return its report")] = False,
) -> JobAccepted | IngestReport:
    """Fetch every web source now, in a background job (202 with the job id; poll
    `GET /v1/admin/jobs/{job_id}`), as `pm-ingest sync` does."""
    path = service.settings.sync.sources_path
    if not path.exists():
        raise HTTPException(
            status_code=409, detail=f"No sources file at {path} (set PMA_SYNC__SOURCES_PATH)."
        )
    runner = job_runner(service)
    job = await run_in_threadpool(runner.submit_sync, metrics.observe_ingest)
    if not wait:
        return JobAccepted(job_id=job.id, status=job.status)
    job = await finished(runner, job.id)
    if job.status != "done" or job.report is None:
        raise HTTPException(status_code=500, detail=job.error or "The sync failed.")
    response.status_code = status.HTTP_200_OK
    response.headers["X-Job-Id"] = job.id
    return job.report
