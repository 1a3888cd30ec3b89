"""A drill report from what happened: each step, message, acknowledgement and report duty
with its planned and actual time, and what was late or reached nobody. Plain data in,
lines out; the flows gather the facts from the other subjects' rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.drills.models import ReportLine

# A step fired within this of its due time was on time (the engine wakes within seconds).
STEP_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class StepFact:
    label: str  # "step 2, round 1", "unanswered alert"
    due_at: datetime
    fired_at: datetime | None
    state: str  # pending, fired, cancelled


@dataclass(frozen=True)
class MessageFact:
    person: str
    channel: str
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    state: str
    error: str | None = None


@dataclass(frozen=True)
class DutyFact:
    label: str  # "initial report to the city's duty officer"
    responsible: str
    due_at: datetime
    submitted_at: datetime | None
    state: str  # open, submitted, cancelled, missing
    late: bool


@dataclass(frozen=True)
class GapFact:
    """Someone the plan meant to reach who could not be: nobody held the role, or the
    person had no address for the channel."""

    at: datetime
    what: str


def step_lines(steps: list[StepFact], now: datetime) -> list[ReportLine]:
    lines = []
    for step in steps:
        if step.state == "cancelled":
            outcome = "cancelled"
        elif step.fired_at is None:
            outcome = "pending" if step.due_at > now else "late"
        else:
            outcome = "late" if step.fired_at - step.due_at > STEP_GRACE else "on_time"
        lines.append(
            ReportLine(
                section="step",
                what=step.label,
                planned_at=step.due_at,
                actual_at=step.fired_at,
                outcome=outcome,
            )
        )
    return lines


def message_lines(messages: list[MessageFact]) -> list[ReportLine]:
    outcomes = {
        "delivered": "delivered",
        "sent": "sent",
        "bundled": "sent",
        "failed": "failed",
        "withdrawn": "withdrawn",
    }
    return [
        ReportLine(
            section="message",
            what=message.channel + (f": {message.error}" if message.error else ""),
            who=message.person,
            planned_at=message.queued_at,
            actual_at=message.delivered_at or message.sent_at,
            outcome=outcomes.get(message.state, "pending"),
        )
        for message in messages
    ]


def acknowledgement_line(
    *,
    acknowledged_at: datetime | None,
    acknowledged_by: str | None,
    expected_by: datetime | None,
    now: datetime,
) -> ReportLine:
    """The plan expects an acknowledgement before its chain goes on to the next step."""
    if acknowledged_at is None:
        outcome = "pending" if expected_by is None or expected_by > now else "missed"
    elif expected_by is not None and acknowledged_at > expected_by:
        outcome = "late"
    else:
        outcome = "on_time"
    return ReportLine(
        section="acknowledgement",
        what="acknowledgement",
        who=acknowledged_by or "",
        planned_at=expected_by,
        actual_at=acknowledged_at,
        outcome=outcome,
    )


def duty_lines(duties: list[DutyFact], now: datetime) -> list[ReportLine]:
    lines = []
    for duty in duties:
        if duty.state == "submitted":
            outcome = "late" if duty.late else "on_time"
        elif duty.state == "missing":
            outcome = "missed"
        elif duty.state == "cancelled":
            outcome = "cancelled"
        else:
            outcome = "late" if duty.due_at <= now else "pending"
        lines.append(
            ReportLine(
                section="report",
                what=duty.label,
                who=duty.responsible,
                planned_at=duty.due_at,
                actual_at=duty.submitted_at,
                outcome=outcome,
            )
        )
    return lines


def gap_lines(gaps: list[GapFact]) -> list[ReportLine]:
    return [
        ReportLine(section="unreached", what=gap.what, actual_at=gap.at, outcome="unreached")
        for gap in gaps
    ]
