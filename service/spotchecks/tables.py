"""Spot-checks, planned ahead per shift, asked, answered or lapsed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class SpotCheckRow(Base):
    __tablename__ = "spot_checks"
    __table_args__ = (
        Index(
            "ix_spot_checks_due",
            "next_at",
            postgresql_where=text("state = 'planned' OR state = 'asked'"),
            sqlite_where=text("state = 'planned' OR state = 'asked'"),
        ),
        UniqueConstraint("unit_id", "shift_start", "number", name="uq_spot_checks_shift"),
        # The monthly figures: the checks asked in a period.
        Index("ix_spot_checks_asked", "asked_at", "state", "unit_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    shift_start: Mapped[datetime]
    number: Mapped[int]  # the first, second … check of that shift
    planned_at: Mapped[datetime]
    next_at: Mapped[datetime]  # when it is asked, then when it lapses
    state: Mapped[str] = mapped_column(String(12))  # planned, asked, answered, lapsed
    person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answered_via: Mapped[str | None] = mapped_column(String(16))
    leader_told: Mapped[str | None] = mapped_column(String(200))
