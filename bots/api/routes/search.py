"""`POST /v1/search`: the ranked passages behind an answer, with their features.

For seeing why an answer was given: a retrieval miss (the right passage is not here) reads differently
from a composition miss (it is here, but its sentence was not chosen; see `features.answer_p`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.types import Filters, SearchResponse
from bots.api.deps import ServiceDep, rate_limit
from bots.api.text_guard import reject_unsafe_text

router = APIRouter(
    prefix="/v1", tags=["search"], dependencies=[Depends(rate_limit), Depends(reject_unsafe_text)]
)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000, examples=["ARRS roles"])
    k: int = Field(default=6, ge=1, le=50, description="How many passages to return.")
    filters: Filters | None = None


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, service: ServiceDep) -> SearchResponse:
    """Ranked passages for a query: source, title, section, score, text and the features that ranked them."""
    return await run_in_threadpool(service.search_passages, body.query, body.k, body.filters)
