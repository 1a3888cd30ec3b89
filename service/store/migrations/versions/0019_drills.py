"""drills, and the drill an incident belongs to

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("stand_ins", sa.JSON(), nullable=False),
        sa.Column("public_warnings", sa.Boolean(), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )
    op.create_index(op.f("ix_drills_unit_id"), "drills", ["unit_id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("drill_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_incidents_drill_id"), ["drill_id"])
        batch.create_foreign_key(
            batch.f("fk_incidents_drill_id_drills"), "drills", ["drill_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint(batch.f("fk_incidents_drill_id_drills"), type_="foreignkey")
        batch.drop_index(batch.f("ix_incidents_drill_id"))
        batch.drop_column("drill_id")
    op.drop_index(op.f("ix_drills_unit_id"), table_name="drills")
    op.drop_table("drills")
