"""Roster versions, handovers, calendar feed links, and the record of periodic work done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class RosterVersionRow(Base):
    """Every edit of the roster is a new version; the newest one is in force."""

    __tablename__ = "roster_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)


class HandoverRow(Base):
    """交接班: the outgoing officer's open incidents and pending reports, confirmed by the next."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    outgoing: Mapped[str] = mapped_column(String(64))
    incoming: Mapped[str | None] = mapped_column(String(64))
    open_incidents: Mapped[list[Any]] = mapped_column(default=list)
    pending_reports: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))


class CalendarFeedRow(Base):
    """A secret link to an iCal feed of one person's or one unit's shifts."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person or unit
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class JobRunRow(Base):
    """Periodic work done once across all processes: a daily check, a shift reminder."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "run_key", name="uq_job_runs_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime]
