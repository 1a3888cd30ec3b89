"""statistics indexes: incidents by when learned of, report duties and spot-checks by
when due or asked (each covering what the figures read), and the drill index only over
drill incidents

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

IN_A_DRILL = "drill_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_drill_id")
        batch.create_index(
            "ix_incidents_drill_id",
            ["drill_id"],
            postgresql_where=sa.text(IN_A_DRILL),
            sqlite_where=sa.text(IN_A_DRILL),
        )
        batch.create_index(
            "ix_incidents_learned",
            [
                "learned_at",
                "unit_id",
                "category",
                "level",
                "acknowledged_at",
                "resolved_at",
                "drill_id",
            ],
        )
    with op.batch_alter_table("report_duties") as batch:
        batch.create_index("ix_report_duties_due", ["due_at", "state", "late", "incident_id"])
    with op.batch_alter_table("spot_checks") as batch:
        batch.create_index("ix_spot_checks_asked", ["asked_at", "state", "unit_id", "answered_at"])


def downgrade() -> None:
    with op.batch_alter_table("spot_checks") as batch:
        batch.drop_index("ix_spot_checks_asked")
    with op.batch_alter_table("report_duties") as batch:
        batch.drop_index("ix_report_duties_due")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_learned")
        batch.drop_index("ix_incidents_drill_id")
        batch.create_index("ix_incidents_drill_id", ["drill_id"])
