"""`/v1/ask` and `/v1/ask/stream`: questions in, grounded answers out.

Answering is CPU-bound (retrieval, reranking, composing), so it always runs in the threadpool; a slow
answer must never stall the event loop that serves everyone else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Depends
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from assistant.types import Answer, Filters, StreamEvent
from bots.api.deps import ChannelDep, MetricsDep, OwnerDep, ServiceDep, rate_limit
from bots.api.metrics import Metrics
from bots.api.responses import error
from bots.api.text_guard import reject_unsafe_text

router = APIRouter(
    prefix="/v1", tags=["ask"], dependencies=[Depends(rate_limit), Depends(reject_unsafe_text)]
)

MAX_QUESTION_CHARS = 2000


class AskRequest(BaseModel):
    """A question, optionally continuing a conversation and narrowed to a topic."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["What is a PCN?"])
    conversation_id: str | None = Field(
        default=None, max_length=200, description="Continue this conversation; omit to start one."
    )
    filters: Filters | None = None


def _sse(event: str, data: object) -> bytes:
    """One Server-Sent Event. JSON data has no raw newlines, so a single `data:` line is always enough."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


UNKNOWN_CONVERSATION = error("`conversation_id` names no conversation of the caller's")


@router.post(
    "/ask",
    response_model=Answer,
    response_model_exclude={"timings_ms"},
    responses={404: UNKNOWN_CONVERSATION},
)
async def ask(
    body: AskRequest, service: ServiceDep, metrics: MetricsDep, channel: ChannelDep, owner: OwnerDep
) -> Answer:
    """Answer one question with numbered sources. `grounded=false` is a refusal or a personal-data warning.
    Continuing a conversation that is not the caller's is a 404, exactly as for an unknown id."""
    answer = await run_in_threadpool(
        service.answer, body.question, body.conversation_id, body.filters, channel=channel, owner=owner
    )
    metrics.observe_answer(answer)
    return answer


def _first_event(events: Iterator[StreamEvent]) -> StreamEvent | None:
    # `next()` in the threadpool: StopIteration must not cross into a coroutine.
    return next(events, None)


async def _event_stream(
    first: StreamEvent | None, events: Iterator[StreamEvent], metrics: Metrics
) -> AsyncIterator[bytes]:
    """Turn service events into SSE: `delta` events with text pieces, then one `final` with the answer."""
    pending = [first] if first is not None else []
    try:
        for event in pending:
            yield _encode(event, metrics)
        async for event in iterate_in_threadpool(events):
            yield _encode(event, metrics)
    except Exception as exc:  # the headers are already sent: tell the client in-band, then fail
        yield _sse("error", {"detail": f"The answer could not be completed ({type(exc).__name__})."})
        raise


def _encode(event: StreamEvent, metrics: Metrics) -> bytes:
    if event.type == "final" and event.answer is not None:
        metrics.observe_answer(event.answer)
        return _sse("final", event.answer.model_dump(mode="json", exclude={"timings_ms"}))
    return _sse("delta", {"text": event.text})


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": '`event: delta` with `{"text"}` pieces, then `event: final` with the whole '
            "answer (sources, notes, conversation_id, message_id). `event: error` if it fails midway.",
        },
        404: UNKNOWN_CONVERSATION,
    },
)
async def ask_stream(
    body: AskRequest, service: ServiceDep, metrics: MetricsDep, channel: ChannelDep, owner: OwnerDep
) -> StreamingResponse:
    """Stream the answer as Server-Sent Events (POST, so read it with fetch rather than EventSource)."""
    events = service.stream(body.question, body.conversation_id, body.filters, channel=channel, owner=owner)
    # Pull the first event before sending headers: a QuestionError then still becomes a proper 422.
    first = await run_in_threadpool(_first_event, events)
    return StreamingResponse(
        _event_stream(first, events, metrics),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
