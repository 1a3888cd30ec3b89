"""The rows of public warnings: recipients with their areas and channels, each warning
message (an Alert, its Updates, its Cancel) with its workflow steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base

# Fan-outs still at work: going out (`running`), or stopped with messages still to
# withdraw (`stopping`). Done ones (`done`, `stopped`) leave the index.
FANOUT_LIVE = "fanout_state = 'running' OR fanout_state = 'stopping'"


class RecipientRow(Base):
    """Someone the public warnings reach: a village head, a school, a subscriber."""

    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    area: Mapped[dict[str, Any]]  # service.warnings.models.Area
    # Whether `area` has a polygon or a circle: only those rows need a geometry test.
    has_geometry: Mapped[bool] = mapped_column(default=False, index=True)
    groups: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RecipientCodeRow(Base):
    """One division code of a recipient's area: a range scan on `code` finds everyone
    under a county's or a city's code."""

    __tablename__ = "recipient_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    code: Mapped[str] = mapped_column(String(12), index=True)


class RecipientChannelRow(Base):
    """An address a recipient is reached at; an opt-out (退订) is per address."""

    __tablename__ = "recipient_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(256), index=True)
    opted_out_at: Mapped[datetime | None]


class RecipientEventRow(Base):
    """What happened to a recipient's subscription: imported, opted out, opted back in."""

    __tablename__ = "recipient_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class WarningRow(Base):
    """One warning message: the first Alert, or an Update or Cancel of it (`root_id`)."""

    __tablename__ = "warnings"
    __table_args__ = (
        # What the fan-out and the outbox's gate look for.
        Index(
            "ix_warnings_fanout",
            "fanout_state",
            postgresql_where=text(FANOUT_LIVE),
            sqlite_where=text(FANOUT_LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    msg_type: Mapped[str] = mapped_column(String(8))
    stage: Mapped[str] = mapped_column(String(20), index=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    hazard: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10))
    content: Mapped[dict[str, Any]]  # service.warnings.models.WarningContent
    expires_at: Mapped[datetime] = mapped_column(index=True)
    drafted_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    signed_by: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[datetime | None]
    # The green channel: published by one signer at once, reviewed after the fact.
    emergency: Mapped[bool] = mapped_column(default=False)
    reviewed_after_by: Mapped[str | None] = mapped_column(String(128))
    identifier: Mapped[str | None] = mapped_column(String(160), unique=True)
    sender: Mapped[str] = mapped_column(String(160), default="")
    cap_xml: Mapped[str | None] = mapped_column(Text)
    # The fan-out to recipients, a chunk per transaction: `cursor` is the last recipient
    # id handled, so a crash resumes after it and nobody is told twice.
    fanout_state: Mapped[str | None] = mapped_column(String(12))
    fanout_cursor: Mapped[int] = mapped_column(default=0)
    fanout_next_due: Mapped[datetime | None]
    targeted: Mapped[int] = mapped_column(default=0)
    fanout_done_at: Mapped[datetime | None]


class WarningStepRow(Base):
    """Every step of a warning's workflow, with who, when and what they said."""

    __tablename__ = "warning_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    step: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WarningIncidentRow(Base):
    """A warning linked to an incident (raised from it, or about it)."""

    __tablename__ = "warning_incidents"

    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
