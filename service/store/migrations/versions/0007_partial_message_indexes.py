"""partial message indexes

A message's row is rewritten at each change of state; an index that leaves out the rows
it is never asked for costs nothing for them. (On PostgreSQL the rebuild holds writes to
`messages` for the seconds it takes; dutyd migrates at start-up, before it sends.)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 04:40:00
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PARTIAL = {
    "ix_messages_due": (["state", "due_at"], "state = 'pending' OR state = 'sending'"),
    "ix_messages_recent": (["person_id", "channel", "sent_at"], "sent_at IS NOT NULL"),
    "ix_messages_digest_of": (["digest_of"], "digest_of IS NOT NULL"),
}


def upgrade() -> None:
    for name, (columns, predicate) in PARTIAL.items():
        op.drop_index(name, table_name="messages")
        op.create_index(
            name,
            "messages",
            columns,
            postgresql_where=text(predicate),
            sqlite_where=text(predicate),
        )


def downgrade() -> None:
    for name, (columns, _) in PARTIAL.items():
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", columns)
