"""Report duties: each report a plan requires is a row with its deadline and its next action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class DutyState:
    open = "open"
    submitted = "submitted"
    cancelled = "cancelled"
    missing = "missing"  # 漏报: never made, and the incident closed: recorded as missed


class DutyPhase:
    remind = "remind"  # next: remind the responsible person
    deadline = "deadline"  # next: the deadline; if still open, it is late (迟报)
    late = "late"  # late: the late-report escalation goes on
    done = "done"  # nothing more to do on its own


class ReportDutyRow(Base):
    __tablename__ = "report_duties"
    __table_args__ = (
        UniqueConstraint(
            "incident_id", "generation", "kind", "sequence", name="uq_report_duty_once"
        ),
        Index("ix_report_duties_next", "state", "next_at"),
        # The report figures and the late-report list: duties falling due in a period.
        Index("ix_report_duties_due", "due_at", "state", "late", "incident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    generation: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(16))  # a ReportKind
    sequence: Mapped[int] = mapped_column(default=1)
    hop: Mapped[str | None] = mapped_column(String(64))  # a reporting-chain hop's id
    # The report as people call it, where its kind alone does not say (a hop: 向…报告).
    names: Mapped[dict[str, Any] | None]
    responsible_id: Mapped[str | None] = mapped_column(String(64))
    responsible_desc: Mapped[str] = mapped_column(String(200))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    via: Mapped[list[Any]] = mapped_column(default=list)
    due_at: Mapped[datetime]
    remind_at: Mapped[datetime | None]
    next_at: Mapped[datetime | None]
    phase: Mapped[str] = mapped_column(String(16))
    late_step: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default=DutyState.open)
    late: Mapped[bool] = mapped_column(default=False)
    late_recorded_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[str | None] = mapped_column(String(128))
    content: Mapped[str] = mapped_column(Text, default="")
    # Why a report was late or never made (迟报、漏报说明), recorded for accountability.
    late_explanation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
