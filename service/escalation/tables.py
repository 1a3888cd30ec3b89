"""Escalation steps as rows with due times: the engine's durable work queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class StepKind:
    step = "step"  # a step of the plan's escalation chain
    unanswered_alert = "unanswered_alert"  # after the last step, nobody answered
    ack_timeout = "ack_timeout"  # acknowledged but not resolved in time: page again


class StepState:
    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"


class EscalationStepRow(Base):
    __tablename__ = "escalation_steps"
    __table_args__ = (
        # A step of an incident exists once per round, whatever process creates it.
        UniqueConstraint(
            "incident_id", "generation", "step_index", "round", name="uq_escalation_step_once"
        ),
        Index("ix_escalation_steps_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Re-planning an incident starts a new generation of its steps.
    generation: Mapped[int] = mapped_column(default=0, server_default="0")
    kind: Mapped[str] = mapped_column(String(24), default=StepKind.step, server_default="step")
    step_index: Mapped[int]
    round: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=StepState.pending)
    fired_at: Mapped[datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(128))
