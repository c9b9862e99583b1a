"""`/v1/feedback` and `/v1/conversations/{id}`: what users thought of answers, and what was said."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.types import Conversation
from bots.api.deps import OwnerDep, ServiceDep, rate_limit
from bots.api.responses import error
from bots.api.text_guard import reject_unsafe_text

router = APIRouter(
    prefix="/v1", tags=["feedback"], dependencies=[Depends(rate_limit), Depends(reject_unsafe_text)]
)


class FeedbackRequest(BaseModel):
    """A thumbs up or down on one answer (`message_id` from the answer), with an optional comment."""

    message_id: str = Field(min_length=1, max_length=200)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackAck(BaseModel):
    """Confirms the rating was stored, so a client can show it."""

    message_id: str
    rating: Literal["up", "down"]
    recorded: bool = True


@router.post("/feedback", status_code=status.HTTP_201_CREATED, responses={404: error("Unknown message id")})
async def feedback(body: FeedbackRequest, service: ServiceDep, owner: OwnerDep) -> FeedbackAck:
    """Record a rating; 404 if the message id was never issued or is in another caller's conversation."""
    await run_in_threadpool(service.feedback, body.message_id, body.rating, body.comment, owner=owner)
    return FeedbackAck(message_id=body.message_id, rating=body.rating)


@router.get("/conversations/{conversation_id}", responses={404: error("Unknown conversation")})
async def conversation(conversation_id: str, service: ServiceDep, owner: OwnerDep) -> Conversation:
    """Every turn of one of the caller's conversations, oldest first (anyone else's is a 404)."""
    found = await run_in_threadpool(service.conversation, conversation_id, owner)
    if found is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Unknown conversation.")
    return found
