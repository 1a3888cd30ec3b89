"""Roster versions and calendar feed links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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


class CalendarFeedRow(Base):
    """A secret link to an iCal feed of one person's or one unit's shifts."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person or unit
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
