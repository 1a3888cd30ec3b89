"""public warnings: recipients, warnings, steps; broadcast columns on messages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:36:53.322483
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

FANOUT_LIVE = "fanout_state = 'running' OR fanout_state = 'stopping'"

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("has_geometry", sa.Boolean(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
        sa.UniqueConstraint("external_id", name=op.f("uq_recipients_external_id")),
    )
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recipients_has_geometry"), ["has_geometry"], unique=False
        )

    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("msg_type", sa.String(length=8), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("hazard", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drafted_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.String(length=128), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("reviewed_after_by", sa.String(length=128), nullable=True),
        sa.Column("identifier", sa.String(length=160), nullable=True),
        sa.Column("sender", sa.String(length=160), nullable=False),
        sa.Column("cap_xml", sa.Text(), nullable=True),
        sa.Column("fanout_state", sa.String(length=12), nullable=True),
        sa.Column("fanout_cursor", sa.Integer(), nullable=False),
        sa.Column("fanout_next_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("fanout_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["root_id"], ["warnings.id"], name=op.f("fk_warnings_root_id_warnings")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["warnings.id"], name=op.f("fk_warnings_supersedes_id_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
        sa.UniqueConstraint("identifier", name=op.f("uq_warnings_identifier")),
    )
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warnings_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_warnings_fanout",
            ["fanout_state"],
            unique=False,
            postgresql_where=sa.text(FANOUT_LIVE),
            sqlite_where=sa.text(FANOUT_LIVE),
        )
        batch_op.create_index(batch_op.f("ix_warnings_root_id"), ["root_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "recipient_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_recipient_channels_recipient_id_recipients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_channels")),
    )
    with op.batch_alter_table("recipient_channels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recipient_channels_address"), ["address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recipient_channels_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "recipient_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_recipient_codes_recipient_id_recipients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_codes")),
    )
    with op.batch_alter_table("recipient_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipient_codes_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recipient_codes_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "recipient_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_recipient_events_recipient_id_recipients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_events")),
    )
    with op.batch_alter_table("recipient_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recipient_events_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "warning_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warnings.id"], name=op.f("fk_warning_steps_warning_id_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_steps")),
    )
    with op.batch_alter_table("warning_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_warning_steps_warning_id"), ["warning_id"], unique=False
        )

    op.create_table(
        "warning_incidents",
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_warning_incidents_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warnings.id"], name=op.f("fk_warning_incidents_warning_id_warnings")
        ),
        sa.PrimaryKeyConstraint("warning_id", "incident_id", name=op.f("pk_warning_incidents")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recipient_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_messages_broadcast",
            ["broadcast_id", "state"],
            unique=False,
            postgresql_where=sa.text("broadcast_id IS NOT NULL"),
            sqlite_where=sa.text("broadcast_id IS NOT NULL"),
        )


def downgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_broadcast",
            postgresql_where=sa.text("broadcast_id IS NOT NULL"),
            sqlite_where=sa.text("broadcast_id IS NOT NULL"),
        )
        batch_op.drop_column("recipient_id")
        batch_op.drop_column("broadcast_id")

    op.drop_table("warning_incidents")
    with op.batch_alter_table("warning_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warning_steps_warning_id"))

    op.drop_table("warning_steps")
    with op.batch_alter_table("recipient_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_events_recipient_id"))

    op.drop_table("recipient_events")
    with op.batch_alter_table("recipient_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_codes_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_recipient_codes_code"))

    op.drop_table("recipient_codes")
    with op.batch_alter_table("recipient_channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_channels_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_recipient_channels_address"))

    op.drop_table("recipient_channels")
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warnings_unit_id"))
        batch_op.drop_index(batch_op.f("ix_warnings_stage"))
        batch_op.drop_index(batch_op.f("ix_warnings_root_id"))
        batch_op.drop_index(
            "ix_warnings_fanout",
            postgresql_where=sa.text(FANOUT_LIVE),
            sqlite_where=sa.text(FANOUT_LIVE),
        )
        batch_op.drop_index(batch_op.f("ix_warnings_expires_at"))

    op.drop_table("warnings")
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipients_has_geometry"))

    op.drop_table("recipients")
