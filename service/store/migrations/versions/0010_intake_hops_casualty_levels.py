"""intake record, reporting-chain hops, proposed levels

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INTAKE_TEXT = ("actions_taken", "others_told")
INTAKE_SHORT = (("reporter_name", 128), ("reporter_unit", 200), ("reporter_phone", 64))


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for name, length in INTAKE_SHORT:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), server_default="", nullable=False)
            )
        batch_op.add_column(
            sa.Column("received_via", sa.String(length=16), server_default="", nullable=False)
        )
        for name in INTAKE_TEXT:
            batch_op.add_column(sa.Column(name, sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("proposed_level", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("proposed_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("report_duties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hop", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_duties", schema=None) as batch_op:
        batch_op.drop_column("names")
        batch_op.drop_column("hop")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for name in ("proposed_reason", "proposed_level", *INTAKE_TEXT, "received_via"):
            batch_op.drop_column(name)
        for name, _ in reversed(INTAKE_SHORT):
            batch_op.drop_column(name)
