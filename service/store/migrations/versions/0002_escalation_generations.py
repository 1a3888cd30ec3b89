"""escalation generations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:33:14.900995
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(batch_op.f("uq_escalation_step_once"), type_="unique")
        batch_op.create_unique_constraint(
            "uq_escalation_step_once", ["incident_id", "generation", "step_index", "round"]
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("escalation_generation", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("escalation_generation")

    with op.batch_alter_table("escalation_steps", schema=None) as batch_op:
        batch_op.drop_constraint("uq_escalation_step_once", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_escalation_step_once"), ["incident_id", "step_index", "round"]
        )
        batch_op.drop_column("generation")
