"""Pure rules for report duties: which are owed, when they fall due, what comes next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.plans.models import FollowUps, ReportDuty, ReportHop, Reports, Step, Target
from service.roster.shifts import wall_to_utc

DEFAULT_LATE_ESCALATION = [
    Step(notify=[Target(role="leader_on_shift")], channels=["sms", "email"], wait="30m"),  # type: ignore[list-item, arg-type]
]


class ReportKind(StrEnum):
    initial = "initial"
    written = "written"
    followup = "followup"
    final = "final"
    supplement = "supplement"
    hop = "hop"  # one hop of a reporting chain up the levels of government


REPORT_NAMES = {
    ReportKind.initial: {"zh": "初报", "en": "initial report"},
    ReportKind.written: {"zh": "书面报告", "en": "written report"},
    ReportKind.followup: {"zh": "续报", "en": "follow-up report"},
    ReportKind.final: {"zh": "终报", "en": "final report"},
    ReportKind.supplement: {"zh": "补报", "en": "supplementary report"},
    ReportKind.hop: {"zh": "逐级上报", "en": "report up the chain"},
}


@dataclass(frozen=True)
class DutySpec:
    kind: ReportKind
    sequence: int
    rule: ReportDuty | FollowUps
    due_at: datetime
    hop: str | None = None

    @property
    def key(self) -> str:
        return duty_key(self.kind, self.hop)

    @property
    def remind_at(self) -> datetime | None:
        before = self.rule.remind_before
        return self.due_at - before if before else None


def duty_key(kind: str, hop: str | None) -> str:
    """What makes a duty the same duty across re-plans: its kind, and a hop its hop id."""
    return f"{ReportKind.hop.value}:{hop}" if hop else str(kind)


def next_followup_due(rule: FollowUps, after: datetime, zone: ZoneInfo) -> datetime:
    """The first follow-up time strictly after `after`: by cadence, or the next local time."""
    if rule.every is not None:
        return after + rule.every
    day = after.astimezone(zone).date()
    for offset in range(3):
        candidates = sorted(
            wall_to_utc(datetime.combine(day + timedelta(days=offset), t), zone) for t in rule.at
        )
        for candidate in candidates:
            if candidate > after:
                return candidate
    raise ValueError("no follow-up time found")  # unreachable: `at` is never empty here


def followup_owed_after(
    rule: FollowUps, previous_due: datetime, now: datetime, zone: ZoneInfo
) -> datetime:
    """The follow-up after one due at `previous_due`: the next by the plan's cadence, but
    never one already past `now`. Follow-ups missed while nobody could report (dutyd was
    down, or the office learned of the event long ago) are not owed one by one: one late
    follow-up is recorded, and the next falls due from now on, on the same cadence."""
    due = next_followup_due(rule, previous_due, zone)
    if due > now:
        return due
    if rule.every is not None:
        return previous_due + ((now - previous_due) // rule.every + 1) * rule.every
    return next_followup_due(rule, now, zone)


def opening_duties(
    reports: Reports,
    learned_at: datetime,
    zone: ZoneInfo,
    reached: frozenset[str] = frozenset(),
) -> list[DutySpec]:
    """Duties owed from the moment the office learned of the event. Of the reporting chain,
    the hops that start it, and those after a hop in `reached` (already reported: its
    office learned of the event, and the deadline of the next counts from `learned_at`)."""
    specs = []
    if reports.initial:
        specs.append(
            DutySpec(ReportKind.initial, 1, reports.initial, learned_at + reports.initial.deadline)
        )
    if reports.written:
        specs.append(
            DutySpec(ReportKind.written, 1, reports.written, learned_at + reports.written.deadline)
        )
    for index, hop in enumerate(reports.chain or []):
        if hop.after is None or hop.after in reached:
            specs.append(
                DutySpec(ReportKind.hop, index + 1, hop, learned_at + hop.deadline, hop.id)
            )
    if reports.followups and (reports.followups.every or reports.followups.at):
        # Follow-ups begin once the first report is due: a follow-up before it makes no sense.
        start = max([learned_at, *(s.due_at for s in specs)])
        specs.append(
            DutySpec(
                ReportKind.followup,
                1,
                reports.followups,
                next_followup_due(reports.followups, start, zone),
            )
        )
    return specs


def hops_after(reports: Reports, hop_id: str) -> list[tuple[int, ReportHop]]:
    """The hops whose office learns of the event from hop `hop_id`'s report, with their
    sequence (place in the chain, from 1)."""
    return [(i + 1, hop) for i, hop in enumerate(reports.chain or []) if hop.after == hop_id]


def rule_for(reports: Reports, kind: str, hop: str | None = None) -> ReportDuty | FollowUps | None:
    """The plan's rule a duty of this kind was made by (none for a supplementary report)."""
    if kind == ReportKind.hop:
        return next((h for h in reports.chain or [] if h.id == hop), None)
    return {
        ReportKind.initial: reports.initial,
        ReportKind.written: reports.written,
        ReportKind.followup: reports.followups,
        ReportKind.final: reports.final,
    }.get(ReportKind(kind))


def late_steps(reports: Reports) -> list[Step]:
    return (
        reports.late_escalation if reports.late_escalation is not None else DEFAULT_LATE_ESCALATION
    )


def describe_targets(targets: list[Target]) -> list[str]:
    return [t.describe() for t in targets]


def overdue_by(due_at: datetime, now: datetime) -> timedelta | None:
    """How late a duty due at `due_at` is at `now`; None while it is not yet due. A duty
    falls due at its deadline itself, so one due exactly now is late by nothing."""
    return now - due_at if due_at <= now else None
