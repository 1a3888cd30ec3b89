"""Instructions and their assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class InstructionRow(Base):
    __tablename__ = "instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    leader: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(16))  # console, api, sms, email


class AssignmentRow(Base):
    """A task an instruction gives a unit (or a person in it), due by a deadline."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "ix_assignments_due",
            "next_at",
            postgresql_where=text("phase != 'done'"),
            sqlite_where=text("phase != 'done'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instructions.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str | None] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(Text)
    returns: Mapped[str] = mapped_column(String(16))  # answer, report
    deadline: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), index=True)  # open, answered, closed
    phase: Mapped[str] = mapped_column(String(8))  # remind, late, done: the next checkpoint
    next_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None]
    sent_back: Mapped[int] = mapped_column(default=0)
    comment: Mapped[str] = mapped_column(Text, default="")
