"""Owned conversations: an owner per conversation, and Slack threads mapped to random ids.

Conversations stored before this have no owner, so no HTTP caller or Slack user can reach them any more
(they stay in the database for the admin's feedback and unanswered-question lists).

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch.create_index("ix_conversations_owner", ["owner"])
    op.create_table(
        "slack_threads",
        sa.Column("thread_key", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_threads")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_owner")
        batch.drop_column("owner")
