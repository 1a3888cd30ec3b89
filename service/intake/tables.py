"""Machine reports as they came in: each committed before its sender is answered, then
worked by the engine (`state`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base

ACCEPTED = "accepted"


class MachineReportRow(Base):
    """One alert (or check-in) from one source."""

    __tablename__ = "machine_reports"
    __table_args__ = (
        # What the engine has still to work: the only rows it looks for.
        Index(
            "ix_machine_reports_accepted",
            "id",
            postgresql_where=text("state = 'accepted'"),
            sqlite_where=text("state = 'accepted'"),
        ),
        # A sender's retry of the same request is the same report.
        UniqueConstraint("source", "idempotency_key", name="uq_machine_reports_idempotency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # firing, resolved, heartbeat
    fingerprint: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(12), default=ACCEPTED)
    incident_id: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    worked_at: Mapped[datetime | None]


class CheckInRow(Base):
    """A heartbeat source's last check-in, and the incident its silence opened."""

    __tablename__ = "source_checkins"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_at: Mapped[datetime]
    silent_incident_id: Mapped[int | None]
