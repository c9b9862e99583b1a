"""`/v1/documents`: what the assistant can answer from (the web chat builds its topic filter from it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from assistant.types import DocumentInfo
from bots.api.deps import ServiceDep, rate_limit
from bots.api.text_guard import reject_unsafe_text

router = APIRouter(
    prefix="/v1", tags=["documents"], dependencies=[Depends(rate_limit), Depends(reject_unsafe_text)]
)


@router.get("/documents")
async def documents(service: ServiceDep) -> list[DocumentInfo]:
    """Every indexed document: source, title, topic, published and reviewed dates, chunk count."""
    return await run_in_threadpool(service.documents)
