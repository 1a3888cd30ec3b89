"""relay from upstream: the record of every CAP message taken in, and what it became

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "relayed_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=160), nullable=False),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("msg_type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("warning_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warnings.id"], name=op.f("fk_relayed_warnings_warning_id_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relayed_warnings")),
        sa.UniqueConstraint("sender", "identifier", name=op.f("uq_relayed_warnings_sender")),
    )
    with op.batch_alter_table("relayed_warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relayed_warnings_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_relayed_warnings_url"), ["url"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_relayed_warnings_warning_id"), ["warning_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("relayed_warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relayed_warnings_warning_id"))
        batch_op.drop_index(batch_op.f("ix_relayed_warnings_url"))
        batch_op.drop_index(batch_op.f("ix_relayed_warnings_source"))

    op.drop_table("relayed_warnings")
