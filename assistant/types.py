"""The values that cross from the answer service to its front doors (HTTP, web, Slack, CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    """A cited passage; `n` is the number used as `[n]` in the answer text."""

    n: int
    title: str
    source: str
    section: str = ""
    url: str | None = None
    published: str | None = None
    publisher: str | None = None
    topic: str | None = None
    fetched_at: str | None = Field(
        default=None, description="When a web page's quoted text was downloaded (ISO 8601); files have none."
    )
    score: float = 0.0
    text: str


class Retrieved(BaseModel):
    """A retrieved passage, cited or not, with the features that ranked it: what `search` shows and what
    `ask --json` lists as `retrieved`, so a retrieval miss can be told from a composition miss."""

    source: str
    title: str
    section: str = ""
    url: str | None = None
    published: str | None = None
    score: float = 0.0
    text: str
    features: dict[str, float] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    query: str
    passages: list[Retrieved]


class Answer(BaseModel):
    """What every front door renders. `grounded=False` means a refusal or a personal-data warning."""

    answer: str
    grounded: bool
    sources: list[Source] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    conversation_id: str | None = None
    message_id: str | None = None
    nearest_topics: list[str] = Field(default_factory=list)
    personal_data: list[str] = Field(
        default_factory=list,
        description="Kinds of personal data found in the question (e.g. 'NHS number'). When non-empty the "
        "question was not answered and nothing of it was stored.",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)
    composer: str = Field(
        default="extractive",
        description="What wrote the text: 'extractive' (verbatim cited sentences) or another.",
    )
    retrieved: list[Retrieved] = Field(default_factory=list)


class Filters(BaseModel):
    """Metadata filters a caller may put on retrieval."""

    topic: str | None = None
    source: str | None = None


class StreamEvent(BaseModel):
    """One piece of a streamed answer: text deltas, then one final event carrying the whole `Answer`."""

    type: Literal["delta", "final"]
    text: str = ""
    answer: Answer | None = None


class Turn(BaseModel):
    message_id: str
    question: str
    answer: str
    grounded: bool
    created_at: str
    sources: list[Source] = Field(default_factory=list)


class Conversation(BaseModel):
    conversation_id: str
    turns: list[Turn]


class DocumentInfo(BaseModel):
    source: str
    title: str
    topic: str | None = None
    published: str | None = None
    reviewed: str | None = None
    chunks: int


class FeedbackRecord(BaseModel):
    message_id: str
    rating: Literal["up", "down"]
    comment: str | None = None
    question: str | None = None
    created_at: str


class UnansweredQuestion(BaseModel):
    question: str
    count: int
    last_asked: str


class IngestFailure(BaseModel):
    source: str
    error: str


class IngestReport(BaseModel):
    """The `pm-ingest --json` shape (exactly these keys). `repaired` counts what the reconcile pass fixed
    (orphan chunks and sentences removed, stale records dropped, lost files indexed again);
    `not_modified` counts web pages that answered 304 or came back with the same body, so nothing of
    them was parsed or embedded."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: list[IngestFailure] = Field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    repaired: int = 0
    not_modified: int = 0


class QuestionError(ValueError):
    """A question the service will not take (empty or too long); front doors map it to a 4xx."""


class UnknownMessage(LookupError):
    """Feedback for a message id the service never issued, or one in another owner's conversation."""


class UnknownConversation(LookupError):
    """A conversation id that does not exist or belongs to someone else: front doors answer both with
    the same 404, so an id's existence is never revealed to a caller who does not own it."""
