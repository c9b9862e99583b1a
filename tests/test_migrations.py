"""The app database's schema comes from Alembic migrations, on SQLite and on a real PostgreSQL server.

Also the database-backed rate-limit windows, which must hold across processes sharing one database.
PostgreSQL tests use the server `.ci/run` starts (`PMA_TEST_POSTGRES_URL`); they skip without it, and fail
under CI=true.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from assistant.history import History, metadata
from assistant.migrate import alembic_config
from assistant.types import Source, UnknownMessage
from bots.api.ratelimit import SharedWindowLimiter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def head() -> str:
    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _turn(history: History, owner: str | None, conversation_id: str | None = None) -> tuple[str, str]:
    return history.add_turn(
        conversation_id,
        question="What is a PCN?",
        retrieval_query="What is a PCN?",
        answer="A primary care network [1].",
        grounded=True,
        sources=[Source(n=1, title="PCNs", source="corpus/pcn.md", score=0.9, text="...")],
        channel="api",
        user=None,
        owner=owner,
    )


def test_a_new_sqlite_database_is_migrated_to_head(tmp_path: Path) -> None:
    history = History(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    assert current_revision(history.engine) == head()
    assert schema_differences(history.engine) == []
    # Opening it again (every process start does) changes nothing.
    again = History(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    assert current_revision(again.engine) == head()


def test_a_database_from_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    """What `create_all` built before: the baseline tables, no alembic_version; the data must survive."""
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    old = sa.create_engine(url)
    with old.begin() as conn:
        for ddl in (
            "CREATE TABLE conversations (id VARCHAR(200) NOT NULL, channel VARCHAR(20) NOT NULL, "
            "created_at VARCHAR(40) NOT NULL, PRIMARY KEY (id))",
            "CREATE TABLE messages (seq INTEGER NOT NULL, id VARCHAR(40) NOT NULL, conversation_id "
            "VARCHAR(200), question TEXT NOT NULL, retrieval_query TEXT NOT NULL, answer TEXT NOT NULL, "
            "grounded BOOLEAN NOT NULL, sources TEXT NOT NULL, user VARCHAR(200), created_at VARCHAR(40) "
            "NOT NULL, PRIMARY KEY (seq), UNIQUE (id), FOREIGN KEY(conversation_id) REFERENCES "
            "conversations (id))",
            "CREATE INDEX ix_messages_conversation_id ON messages (conversation_id)",
            "CREATE TABLE feedback (id INTEGER NOT NULL, message_id VARCHAR(40), rating VARCHAR(4) NOT "
            "NULL, comment TEXT, user VARCHAR(200), created_at VARCHAR(40) NOT NULL, PRIMARY KEY (id), "
            "FOREIGN KEY(message_id) REFERENCES messages (id))",
            "CREATE INDEX ix_feedback_message_id ON feedback (message_id)",
            "CREATE TABLE claimed_events (key VARCHAR(200) NOT NULL, created_at VARCHAR(40) NOT NULL, "
            "PRIMARY KEY (key))",
            "INSERT INTO conversations VALUES ('slack:T1:D1:dm', 'slack', '2025-01-01T00:00:00')",
            "INSERT INTO messages VALUES (1, 'm1', 'slack:T1:D1:dm', 'q', 'q', 'a', 0, '[]', 'U1', "
            "'2025-01-01T00:00:00')",
            "INSERT INTO claimed_events VALUES ('slack:Ev1', '2025-01-01T00:00:00')",
        ):
            conn.exec_driver_sql(ddl)
    old.dispose()

    history = History(url)
    assert current_revision(history.engine) == head()
    assert schema_differences(history.engine) == []
    kept = history.conversation("slack:T1:D1:dm")
    assert kept is not None
    assert [t.message_id for t in kept.turns] == ["m1"]
    assert history.claim("slack:Ev1") is False
    # Stored before owners existed: no owner, so no HTTP caller or Slack user can reach it any more.
    assert history.owns("slack:T1:D1:dm", "session:someone") is False
    assert history.owns("slack:T1:D1:dm", "slack:T1:U1") is False
    assert [u.question for u in history.unanswered(10)] == ["q"]


def test_postgres_is_migrated_and_stores_owned_conversations(postgres_url: str) -> None:
    history = History(postgres_url)
    assert history.engine.dialect.name == "postgresql"
    assert current_revision(history.engine) == head()
    assert schema_differences(history.engine) == []

    conversation_id, message_id = _turn(history, "key:a")
    assert history.owns(conversation_id, "key:a")
    assert not history.owns(conversation_id, "key:b")
    _turn(history, "key:a", conversation_id)
    conversation = history.conversation(conversation_id)
    assert conversation is not None
    assert len(conversation.turns) == 2
    with pytest.raises(UnknownMessage):
        history.add_feedback(message_id, "up", None, None, owner="key:b")
    history.add_feedback(message_id, "up", None, None, owner="key:a")
    assert [f.message_id for f in history.feedback_list(10)] == [message_id]
    thread = history.thread_conversation("slack:T:C:1.0", "slack:T:U", "slack")
    assert history.thread_conversation("slack:T:C:1.0", "slack:T:U", "slack") == thread
    assert history.owns(thread, "slack:T:U")
    assert history.claim("slack:Ev1") is True
    assert history.claim("slack:Ev1") is False


def test_workers_starting_together_migrate_once(postgres_url: str) -> None:
    """Several processes opening a fresh database at the same moment: one migrates, the others wait."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            History(postgres_url).engine.dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert current_revision(sa.create_engine(postgres_url)) == head()


def test_window_slots_are_never_oversold(postgres_url: str) -> None:
    """Many connections racing for the last slots of one window: exactly `allowed` are granted."""
    history = History(postgres_url)
    granted: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            got = history.take_window_slot("k" * 64, 1_000_000, 25)
            with lock:
                granted.append(got)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(granted) == 80
    assert granted.count(True) == 25
    assert history.window_count("k" * 64, 1_000_000) == 25


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_history(request: pytest.FixtureRequest, tmp_path: Path) -> History:
    if request.param == "sqlite":
        return History(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    return History(request.getfixturevalue("postgres_url"))


def test_shared_limiter_holds_across_processes(shared_history: History) -> None:
    """Two limiters over one database stand for two API processes: together they allow `limit`."""
    clock = Clock(6_000_000.0 + 5)  # 5 s into a minute
    first = SharedWindowLimiter(shared_history, limit=3, window_s=60, clock=clock)
    second = SharedWindowLimiter(shared_history, limit=3, window_s=60, clock=clock)
    assert first.hit("key:a") is None
    assert second.hit("key:a") is None
    assert first.hit("key:a") is None
    for limiter in (second, first):
        wait = limiter.hit("key:a")
        assert wait is not None
        assert 0 < wait <= 60 + 60
    assert second.hit("key:b") is None  # other clients are not affected
    # Windows slide: just after the minute turns, the last minute's three still count...
    clock.now += 56
    assert first.hit("key:a") is not None
    # ...and once a third of the new minute has passed, two-thirds of them do: room for one.
    clock.now += 20
    assert second.hit("key:a") is None
    assert first.hit("key:a") is not None
    # Nothing is stored in the clear: buckets are hashed.
    with shared_history.engine.connect() as conn:
        keys = [row[0] for row in conn.exec_driver_sql("SELECT key FROM rate_windows")]
    assert keys
    assert all(len(k) == 64 and "key:" not in k for k in keys)
