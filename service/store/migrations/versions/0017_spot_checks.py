"""duty spot-checks

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
WATCHED = "state = 'planned' OR state = 'asked'"


def upgrade() -> None:
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("shift_start", WHEN, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("planned_at", WHEN, nullable=False),
        sa.Column("next_at", WHEN, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("asked_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("answered_via", sa.String(length=16), nullable=True),
        sa.Column("leader_told", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_checks")),
        sa.UniqueConstraint("unit_id", "shift_start", "number", name="uq_spot_checks_shift"),
    )
    op.create_index(op.f("ix_spot_checks_unit_id"), "spot_checks", ["unit_id"])
    op.create_index(op.f("ix_spot_checks_person_id"), "spot_checks", ["person_id"])
    op.create_index(
        "ix_spot_checks_due",
        "spot_checks",
        ["next_at"],
        postgresql_where=sa.text(WATCHED),
        sqlite_where=sa.text(WATCHED),
    )


def downgrade() -> None:
    op.drop_table("spot_checks")
