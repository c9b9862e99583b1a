"""Slack event claims that settle after the answer: `event_claims` replaces `claimed_events`.

A claim is taken when an event arrives and marked `done` only once its answer went out, so a retry of an
event whose answer failed (or whose worker died, once the claim is older than the lease) is answered
after all. Keys claimed before this were all settled the old way, so they are carried over as done: an
event answered just before the upgrade is still never answered twice. Their `claimed_at` is the time of
the upgrade (the old column was text), so they are forgotten a day later like any other claim. A
database whose `create_all` already built `event_claims` (and no `claimed_events`) keeps its table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-05-21
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_claimed_events = sa.table("claimed_events", sa.column("key", sa.String), sa.column("created_at", sa.String))
_event_claims = sa.table(
    "event_claims",
    sa.column("key", sa.String),
    sa.column("claimed_at", sa.Float),
    sa.column("done", sa.Boolean),
)


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "event_claims" not in tables:
        _create_event_claims()
    if "claimed_events" in tables:
        op.execute(
            _event_claims.insert().from_select(
                ["key", "claimed_at", "done"],
                sa.select(_claimed_events.c.key, sa.literal(time.time(), sa.Float), sa.true()),
            )
        )
        op.drop_table("claimed_events")


def _create_event_claims() -> None:
    op.create_table(
        "event_claims",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("claimed_at", sa.Float, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_index("ix_event_claims_claimed_at", "event_claims", ["claimed_at"])


def downgrade() -> None:
    op.create_table(
        "claimed_events",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    # Only settled claims meant "already answered" to the old code; pending ones are dropped.
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    op.execute(
        _claimed_events.insert().from_select(
            ["key", "created_at"],
            sa.select(_event_claims.c.key, sa.literal(now, sa.String)).where(_event_claims.c.done.is_(True)),
        )
    )
    op.drop_table("event_claims")
