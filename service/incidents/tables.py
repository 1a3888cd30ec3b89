"""Incident and timeline tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, event, text
from sqlalchemy.orm import Mapped, QueryContext, Session, mapped_column

from service.notify.queue import DRILL_INCIDENTS
from service.store.base import Base


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # The figures (service/flows/statistics.py): every column they read of the
        # incidents learned of in a period, so that they read this index, not the rows.
        Index(
            "ix_incidents_learned",
            "learned_at",
            "unit_id",
            "category",
            "level",
            "acknowledged_at",
            "resolved_at",
            "drill_id",
        ),
        # Only a drill's incidents: for `drill_id IS NULL` (nearly every row) SQLite would
        # otherwise take this index, and read the table through it.
        Index(
            "ix_incidents_drill_id",
            "drill_id",
            postgresql_where=text("drill_id IS NOT NULL"),
            sqlite_where=text("drill_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(4))
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    casualties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    losses: Mapped[str] = mapped_column(Text, default="", server_default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    dedup_key: Mapped[str | None] = mapped_column(String(200), index=True)
    silence_id: Mapped[int | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(32))
    reporter: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    occurred_at: Mapped[datetime | None]
    learned_at: Mapped[datetime]
    created_at: Mapped[datetime]
    plan_id: Mapped[str] = mapped_column(String(128))
    plan_version: Mapped[str] = mapped_column(String(64), ForeignKey("plan_versions.digest"))
    escalation_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    # The intake record (接报登记): who reported it, how, what was done, who else knows.
    reporter_name: Mapped[str] = mapped_column(String(128), default="", server_default="")
    reporter_unit: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reporter_phone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    received_via: Mapped[str] = mapped_column(String(16), default="", server_default="")
    actions_taken: Mapped[str] = mapped_column(Text, default="", server_default="")
    others_told: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A level the casualty figures imply, awaiting the officer's decision (plan rule `ask`).
    proposed_level: Mapped[str | None] = mapped_column(String(4))
    proposed_reason: Mapped[str | None] = mapped_column(Text)
    # The drill this incident is part of: every message marked, kept out of the figures.
    drill_id: Mapped[int | None] = mapped_column(ForeignKey("drills.id"))


def remember_drill(session: Session, incident: IncidentRow) -> None:
    """Tell the session's message queue that messages about `incident` are a drill's."""
    if incident.drill_id is not None:
        session.info.setdefault(DRILL_INCIDENTS, set()).add(incident.id)


@event.listens_for(IncidentRow, "load")
def _drill_loaded(incident: IncidentRow, context: QueryContext) -> None:
    remember_drill(context.session, incident)


class TimelineEntryRow(Base):
    """Append-only: nothing updates or deletes these rows; corrections are new entries."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SilenceRow(Base):
    """Automated reports matching a silence are recorded but page nobody."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]
