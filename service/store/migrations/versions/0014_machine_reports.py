"""machine reports: what sources sent, committed before they are answered; check-ins

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
ACCEPTED = "state = 'accepted'"


def upgrade() -> None:
    op.create_table(
        "machine_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("worked_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_reports")),
        sa.UniqueConstraint("source", "idempotency_key", name="uq_machine_reports_idempotency"),
    )
    op.create_index(op.f("ix_machine_reports_source"), "machine_reports", ["source"])
    op.create_index(
        "ix_machine_reports_accepted",
        "machine_reports",
        ["id"],
        postgresql_where=sa.text(ACCEPTED),
        sqlite_where=sa.text(ACCEPTED),
    )
    op.create_table(
        "source_checkins",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("last_at", WHEN, nullable=False),
        sa.Column("silent_incident_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_checkins")),
    )


def downgrade() -> None:
    op.drop_table("source_checkins")
    op.drop_index("ix_machine_reports_accepted", table_name="machine_reports")
    op.drop_index(op.f("ix_machine_reports_source"), table_name="machine_reports")
    op.drop_table("machine_reports")
