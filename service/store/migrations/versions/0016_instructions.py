"""leaders' instructions and their assignments

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
WATCHED = "phase != 'done'"


def upgrade() -> None:
    op.create_table(
        "instructions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("leader", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_instructions_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instructions")),
    )
    op.create_index(op.f("ix_instructions_incident_id"), "instructions", ["incident_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instruction_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("returns", sa.String(length=16), nullable=False),
        sa.Column("deadline", WHEN, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("next_at", WHEN, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("sent_back", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instruction_id"],
            ["instructions.id"],
            name=op.f("fk_assignments_instruction_id_instructions"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_assignments_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    for column in ("instruction_id", "incident_id", "unit_id", "state"):
        op.create_index(op.f(f"ix_assignments_{column}"), "assignments", [column])
    op.create_index(
        "ix_assignments_due",
        "assignments",
        ["next_at"],
        postgresql_where=sa.text(WATCHED),
        sqlite_where=sa.text(WATCHED),
    )


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("instructions")
