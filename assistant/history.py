"""Conversations, feedback and claimed event ids in SQL.

SQLite in the data dir by default; any SQLAlchemy URL (Postgres) when several API processes must share
conversations and Slack's event de-duplication.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from assistant.types import (
    Conversation,
    FeedbackRecord,
    Source,
    Turn,
    UnansweredQuestion,
    UnknownMessage,
)

_md = sa.MetaData()
conversations = sa.Table(
    "conversations",
    _md,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)
messages = sa.Table(
    "messages",
    _md,
    # Turn order comes from `seq`: timestamps from several processes can tie or drift.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), unique=True, nullable=False),
    sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id"), index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("retrieval_query", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("grounded", sa.Boolean, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),
    sa.Column("user", sa.String(200)),
    sa.Column("created_at", sa.String(40), nullable=False),
)
feedback = sa.Table(
    "feedback",
    _md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(40), sa.ForeignKey("messages.id"), index=True),
    sa.Column("rating", sa.String(4), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("user", sa.String(200)),
    sa.Column("created_at", sa.String(40), nullable=False),
)
claimed_events = sa.Table(
    "claimed_events",
    _md,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.String(40), nullable=False),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class History:
    def __init__(self, url: str) -> None:
        kwargs: dict = {}
        if url.startswith("sqlite"):
            # API workers and Bolt threads share one file; wait for a lock instead of failing.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            # WAL lets readers and the writer overlap; NORMAL sync skips an fsync per answer (~20 ms)
            # and is still safe against application crashes.
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        _md.create_all(self.engine)

    def add_turn(
        self,
        conversation_id: str | None,
        *,
        question: str,
        retrieval_query: str,
        answer: str,
        grounded: bool,
        sources: list[Source],
        channel: str,
        user: str | None,
    ) -> tuple[str, str]:
        """Store one question and its answer; returns (conversation id, message id)."""
        conversation_id = conversation_id or uuid.uuid4().hex
        message_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
            ).first()
            if not exists:
                conn.execute(
                    conversations.insert().values(id=conversation_id, channel=channel, created_at=_now())
                )
            conn.execute(
                messages.insert().values(
                    id=message_id,
                    conversation_id=conversation_id,
                    question=question,
                    retrieval_query=retrieval_query,
                    answer=answer,
                    grounded=grounded,
                    sources=json.dumps([s.model_dump() for s in sources]),
                    user=user,
                    created_at=_now(),
                )
            )
        return conversation_id, message_id

    def recent_turns(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """(question, retrieval query) of the last turns, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.question, messages.c.retrieval_query)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.seq.desc())
                .limit(limit)
            ).all()
        return [(r[0], r[1]) for r in reversed(rows)]

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self.engine.connect() as conn:
            if not conn.execute(
                sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
            ).first():
                return None
            rows = conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.seq)
            ).mappings()
            turns = [
                Turn(
                    message_id=r["id"],
                    question=r["question"],
                    answer=r["answer"],
                    grounded=r["grounded"],
                    created_at=r["created_at"],
                    sources=[Source(**s) for s in json.loads(r["sources"])],
                )
                for r in rows
            ]
        return Conversation(conversation_id=conversation_id, turns=turns)

    def add_feedback(self, message_id: str, rating: str, comment: str | None, user: str | None) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(sa.select(messages.c.id).where(messages.c.id == message_id)).first():
                raise UnknownMessage(message_id)
            conn.execute(
                feedback.insert().values(
                    message_id=message_id, rating=rating, comment=comment, user=user, created_at=_now()
                )
            )

    def feedback_list(self, limit: int) -> list[FeedbackRecord]:
        query = (
            sa.select(feedback, messages.c.question)
            .join(messages, messages.c.id == feedback.c.message_id)
            .order_by(feedback.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                FeedbackRecord(
                    message_id=r["message_id"],
                    rating=r["rating"],
                    comment=r["comment"],
                    question=r["question"],
                    created_at=r["created_at"],
                )
                for r in conn.execute(query).mappings()
            ]

    def unanswered(self, limit: int) -> list[UnansweredQuestion]:
        """Refused questions, most frequent first: where the corpus has gaps."""
        key = sa.func.lower(sa.func.trim(messages.c.question))
        query = (
            sa.select(
                sa.func.min(messages.c.question),
                sa.func.count().label("n"),
                sa.func.max(messages.c.created_at),
            )
            .where(messages.c.grounded.is_(False))
            .group_by(key)
            .order_by(sa.desc("n"), sa.func.max(messages.c.created_at).desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                UnansweredQuestion(question=q, count=n, last_asked=last) for q, n, last in conn.execute(query)
            ]

    def claim(self, key: str) -> bool:
        """True the first time a key is claimed, in any process sharing this database."""
        try:
            with self.engine.begin() as conn:
                conn.execute(claimed_events.insert().values(key=key, created_at=_now()))
            return True
        except IntegrityError:
            return False

    def gap_rows(self, limit: int) -> list[dict[str, str | None]]:
        """The newest refused questions and thumbs-down questions, with the answer given and any
        comment: the raw material of the gaps report (`assistant.gaps`)."""
        refused = (
            sa.select(
                messages.c.question,
                messages.c.answer,
                messages.c.created_at,
                sa.null().label("comment"),
                sa.literal("refused").label("kind"),
            )
            .where(messages.c.grounded.is_(False))
            .order_by(messages.c.seq.desc())
            .limit(limit)
        )
        disliked = (
            sa.select(
                messages.c.question,
                messages.c.answer,
                feedback.c.created_at,
                feedback.c.comment,
                sa.literal("down").label("kind"),
            )
            .join(messages, messages.c.id == feedback.c.message_id)
            .where(feedback.c.rating == "down")
            .order_by(feedback.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [dict(r) for q in (refused, disliked) for r in conn.execute(q).mappings()]
        return rows
