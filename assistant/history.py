"""Conversations, feedback, claimed event ids and shared rate-limit windows in SQL.

SQLite in the data dir by default; any SQLAlchemy URL (Postgres) when several API processes must share
conversations, Slack's event de-duplication and rate limits. The schema is owned by the Alembic
migrations in `assistant/migrations/`; the tables below are what those migrations build (a test compares
the two), kept here so queries are written against real columns.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from assistant import migrate
from assistant.types import (
    Conversation,
    FeedbackRecord,
    Source,
    Turn,
    UnansweredQuestion,
    UnknownMessage,
)

metadata = sa.MetaData()
_md = metadata
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    # Who may read, continue or rate it (see assistant/owners.py). NULL only for conversations stored
    # before owners existed, or made by library callers that pass no owner.
    sa.Column("owner", sa.String(200), nullable=True, index=True),
)
messages = sa.Table(
    "messages",
    metadata,
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
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(40), sa.ForeignKey("messages.id"), index=True),
    sa.Column("rating", sa.String(4), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("user", sa.String(200)),
    sa.Column("created_at", sa.String(40), nullable=False),
)
claimed_events = sa.Table(
    "claimed_events",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.String(40), nullable=False),
)
slack_threads = sa.Table(
    "slack_threads",
    metadata,
    # A Slack thread (or DM) is one conversation per person: the random conversation id is looked up
    # here, so it can't be derived from the team, channel and thread that everyone in a channel sees.
    sa.Column("thread_key", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200), primary_key=True),
    sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id"), nullable=False),
)
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    # One row per client bucket (hashed) and fixed window; the limiter weighs the previous window too.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Index("ix_rate_windows_window_start", "window_start"),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """A conversation id nobody can guess (122 random bits), whoever the conversation is for."""
    return uuid.uuid4().hex


def _owned_by(owner: str | None) -> sa.ColumnElement[bool]:
    return conversations.c.owner.is_(None) if owner is None else conversations.c.owner == owner


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

        migrate.upgrade(self.engine)

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
        owner: str | None = None,
    ) -> tuple[str, str]:
        """Store one question and its answer; returns (conversation id, message id).

        A new conversation gets a random id and `owner`; the caller has already checked that an existing
        one is `owner`'s (`owns`)."""
        conversation_id = conversation_id or new_id()
        message_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
            ).first()
            if not exists:
                conn.execute(
                    conversations.insert().values(
                        id=conversation_id, channel=channel, created_at=_now(), owner=owner
                    )
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

    def owns(self, conversation_id: str, owner: str | None) -> bool:
        """True if the conversation exists and is `owner`'s (None owns only owner-less conversations)."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(conversations.c.id).where(
                        conversations.c.id == conversation_id, _owned_by(owner)
                    )
                ).first()
                is not None
            )

    def open_conversation(self, conversation_id: str, owner: str | None, channel: str) -> bool:
        """Create the conversation under a caller-chosen id if it is new; True if it is `owner`'s.

        Only for trusted local callers (the CLI's batch labels): HTTP callers get random ids only."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    conversations.insert().values(
                        id=conversation_id, channel=channel, created_at=_now(), owner=owner
                    )
                )
        except IntegrityError:
            pass  # it exists already (perhaps created a moment ago by another process)
        return self.owns(conversation_id, owner)

    def thread_conversation(self, thread_key: str, owner: str, channel: str) -> str:
        """The random conversation id of one person's Slack thread, created on first use.

        Two deliveries racing to create it both end up with the one that was inserted first."""
        query = sa.select(slack_threads.c.conversation_id).where(
            slack_threads.c.thread_key == thread_key, slack_threads.c.owner == owner
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        if found:
            return str(found)
        conversation_id = new_id()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    conversations.insert().values(
                        id=conversation_id, channel=channel, created_at=_now(), owner=owner
                    )
                )
                conn.execute(
                    slack_threads.insert().values(
                        thread_key=thread_key, owner=owner, conversation_id=conversation_id
                    )
                )
        except IntegrityError:
            with self.engine.connect() as conn:
                return str(conn.execute(query).scalar_one())
        return conversation_id

    def find_thread_conversation(self, thread_key: str, owner: str) -> str | None:
        """The conversation id of a Slack thread if it has one (nothing is created)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(slack_threads.c.conversation_id).where(
                    slack_threads.c.thread_key == thread_key, slack_threads.c.owner == owner
                )
            ).scalar()
        return str(found) if found else None

    def add_feedback(
        self,
        message_id: str,
        rating: str,
        comment: str | None,
        user: str | None,
        *,
        owner: str | None = None,
    ) -> None:
        """Store a rating of a message in one of `owner`'s conversations; UnknownMessage otherwise."""
        owned = (
            sa.select(messages.c.id)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.id == message_id, _owned_by(owner))
        )
        with self.engine.begin() as conn:
            if not conn.execute(owned).first():
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

    # --- shared rate-limit windows -------------------------------------------------------------
    def window_count(self, key: str, window_start: int) -> int:
        """Hits recorded for `key` in the window starting at `window_start` (0 when none)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(rate_windows.c.count).where(
                    rate_windows.c.key == key, rate_windows.c.window_start == window_start
                )
            ).scalar()
        return int(found or 0)

    def take_window_slot(self, key: str, window_start: int, allowed: int) -> bool:
        """Count one hit in a window if fewer than `allowed` are counted there; True if it was counted.

        One statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE count < allowed), so processes sharing
        the database can never together count more than `allowed`."""
        if allowed <= 0:
            return False
        insert = _dialect_insert(self.engine)(rate_windows).values(
            key=key, window_start=window_start, count=1
        )
        statement = insert.on_conflict_do_update(
            index_elements=[rate_windows.c.key, rate_windows.c.window_start],
            set_={"count": rate_windows.c.count + 1},
            where=rate_windows.c.count < allowed,
        ).returning(rate_windows.c.count)
        with self.engine.begin() as conn:
            return conn.execute(statement).first() is not None

    def forget_windows(self, before: int) -> None:
        """Drop windows that ended long ago, so the table follows active clients only."""
        with self.engine.begin() as conn:
            conn.execute(rate_windows.delete().where(rate_windows.c.window_start < before))

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


def _dialect_insert(engine: sa.Engine):  # type: ignore[no-untyped-def]
    """`insert` with ON CONFLICT support: both SQLite and PostgreSQL have it, under their own dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
