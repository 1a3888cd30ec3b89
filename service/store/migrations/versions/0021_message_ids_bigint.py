"""message ids as BIGINT on PostgreSQL: messages and their events, and the columns that
point at a message (failover_of, digest_of, message_events.message_id). SQLite's INTEGER
primary key is already 64-bit: nothing changes there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

COLUMNS = (
    ("messages", "id", False),
    ("messages", "failover_of", True),
    ("messages", "digest_of", True),
    ("message_events", "id", False),
    ("message_events", "message_id", False),
)


def _retype(to: type[sa.types.TypeEngine[int]], before: type[sa.types.TypeEngine[int]]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=to(), existing_type=before(), existing_nullable=nullable
        )
    kind = "bigint" if to is sa.BigInteger else "integer"
    for table in ("messages", "message_events"):
        # A serial column's sequence has its own type (its maximum): changed with it.
        op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS {kind}")


def upgrade() -> None:
    # PostgreSQL rewrites both tables once, keys and the foreign key kept.
    _retype(sa.BigInteger, sa.Integer)


def downgrade() -> None:
    _retype(sa.Integer, sa.BigInteger)
