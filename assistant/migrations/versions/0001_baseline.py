"""Baseline: the tables `create_all` built before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), unique=True, nullable=False),
        sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id")),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("retrieval_query", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("grounded", sa.Boolean, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("user", sa.String(200)),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(40), sa.ForeignKey("messages.id")),
        sa.Column("rating", sa.String(4), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("user", sa.String(200)),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])
    op.create_table(
        "claimed_events",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("claimed_events")
    op.drop_table("feedback")
    op.drop_table("messages")
    op.drop_table("conversations")
