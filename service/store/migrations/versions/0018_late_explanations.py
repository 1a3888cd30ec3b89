"""why a report was late or missing

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_duties") as batch:
        batch.add_column(sa.Column("late_explanation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_duties") as batch:
        batch.drop_column("late_explanation")
