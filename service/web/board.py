"""What the board (值班台) shows: who is on duty in each unit in scope, the open incidents
most urgent first with their next report deadline, escalations nobody acknowledged,
messages that could not be delivered, and coverage gaps ahead."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.incidents.models import LEVEL_ORDER, OPEN_STATUSES
from service.incidents.tables import IncidentRow
from service.notify.tables import MessageRow, MessageState
from service.reports.names import duty_name
from service.reports.tables import DutyState, ReportDutyRow
from service.roster.check import Violation, check_roster
from service.runtime import Runtime

GAPS_AHEAD = timedelta(hours=72)
UNDELIVERED_SINCE = timedelta(hours=24)


@dataclass
class UnitNow:
    id: str
    name: str
    zone: object
    duty_officers: list[str]
    leaders: list[str]
    next_handover: datetime | None


@dataclass(frozen=True)
class BoardIncident:
    """What the board shows of an incident: a few columns, not the whole row."""

    id: int
    level: str
    title: str
    unit_id: str
    status: str
    learned_at: datetime
    acknowledged_at: datetime | None
    silence_id: int | None
    plan_id: str


@dataclass
class IncidentLine:
    incident: BoardIncident
    next_due: datetime | None
    next_report: str
    late: bool
    unacknowledged_step: str | None
    zone: object

    @property
    def urgency_attributes(self) -> dict[str, str]:
        """Its place in the board's order, for the browser (`urgency` as numbers); and if
        not late yet, when its next report falls due and the place it takes then: so a
        browser moves the row at the deadline as the server will, knowing no rule."""
        mark = {"data-urgency": urgency_mark(urgency(self))}
        if self.late or self.next_due is None:
            return mark
        return mark | {
            "data-urgency-at": self.next_due.isoformat(),
            "data-urgency-late": urgency_mark(urgency(replace(self, late=True))),
        }


@dataclass
class Board:
    now: datetime
    units: list[UnitNow]
    incidents: list[IncidentLine]
    undelivered: list[tuple[MessageRow, str]]
    gaps: list[Violation] = field(default_factory=list)


def unit_now(runtime: Runtime, unit_id: str, now: datetime) -> UnitNow:
    roster = runtime.roster
    unit = roster.unit(unit_id)
    officers = [h.person.name for h in roster.holders("duty_officer", unit_id, now)]
    leaders = [h.person.name for h in roster.holders("leader_on_shift", unit_id, now)]
    ends = [
        a.end
        for a in roster.assignments(unit_id, "duty_officer", now, now + timedelta(days=2))
        if a.start <= now < a.end
    ]
    return UnitNow(unit_id, unit.name, unit.zone, officers, leaders, min(ends, default=None))


def urgency(line: IncidentLine) -> tuple[int, int, int, datetime, int]:
    """Late reports first, then unacknowledged, then the more severe, then the sooner due,
    then the older (so that every board, and every browser, has the same order)."""
    return (
        0 if line.late else 1,
        0 if line.unacknowledged_step else 1,
        -LEVEL_ORDER[line.incident.level],  # type: ignore[index]
        line.next_due or datetime.max.replace(tzinfo=line.incident.learned_at.tzinfo),
        line.incident.id,
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def urgency_mark(key: tuple[int | datetime, ...]) -> str:
    """A key of `urgency` as integers separated by spaces, a time as microseconds since
    1970 (exact in a browser's numbers until the year 2255), compared one by one."""
    return " ".join(
        str((part - EPOCH) // timedelta(microseconds=1) if isinstance(part, datetime) else part)
        for part in key
    )


@dataclass(frozen=True)
class _NextDuty:
    kind: str
    sequence: int
    names: dict[str, str] | None
    due_at: datetime


async def open_incident_lines(
    session: AsyncSession,
    runtime: Runtime,
    units: list[str],
    now: datetime,
    only: frozenset[int] | None = None,
) -> list[IncidentLine]:
    """The open incidents of `units` (of `only` these, if given), most urgent first, each
    with its next report due and the escalation step it is on. Three queries, on the
    columns shown only."""
    open_ids = select(IncidentRow.id).where(
        IncidentRow.status.in_([s.value for s in OPEN_STATUSES])
    )
    if only is not None:
        open_ids = open_ids.where(IncidentRow.id.in_(sorted(only)))
    if len(units) < len(runtime.roster.units):
        open_ids = open_ids.where(IncidentRow.unit_id.in_(units))
    columns = [getattr(IncidentRow, f) for f in BoardIncident.__dataclass_fields__]
    incidents = [
        BoardIncident(*row)
        for row in (await session.execute(select(*columns).where(IncidentRow.id.in_(open_ids))))
    ]
    first = (
        select(
            ReportDutyRow.incident_id,
            ReportDutyRow.kind,
            ReportDutyRow.sequence,
            ReportDutyRow.names,
            ReportDutyRow.due_at,
            func.row_number()
            .over(
                partition_by=ReportDutyRow.incident_id,
                order_by=(ReportDutyRow.due_at, ReportDutyRow.id),
            )
            .label("place"),
        )
        .where(ReportDutyRow.state == DutyState.open, ReportDutyRow.incident_id.in_(open_ids))
        .subquery()
    )
    duties = {
        row.incident_id: _NextDuty(row.kind, row.sequence, row.names, row.due_at)
        for row in await session.execute(select(first).where(first.c.place == 1))
    }
    fired: dict[int, int] = {
        incident_id: count
        for incident_id, count in await session.execute(
            select(EscalationStepRow.incident_id, func.count())
            .where(
                EscalationStepRow.incident_id.in_(open_ids),
                EscalationStepRow.state == StepState.fired,
                EscalationStepRow.kind == StepKind.step,
            )
            .group_by(EscalationStepRow.incident_id)
        )
    }
    step_counts: dict[tuple[str, str], int] = {}
    lines = []
    for incident in incidents:
        duty = duties.get(incident.id)
        key = (incident.plan_id, incident.level)
        if key not in step_counts:
            step_counts[key] = _steps(runtime, *key)
        steps = step_counts[key]
        step = None
        if incident.acknowledged_at is None and incident.silence_id is None:
            count = fired.get(incident.id, 0)
            step = f"{count}/{steps}" if steps else str(count)
        lines.append(
            IncidentLine(
                incident=incident,
                next_due=duty.due_at if duty else None,
                next_report=duty_name(duty, "zh") if duty else "",  # type: ignore[arg-type]
                late=bool(duty and duty.due_at <= now),
                unacknowledged_step=step,
                zone=runtime.roster.unit(incident.unit_id).zone,
            )
        )
    return sorted(lines, key=urgency)


def _steps(runtime: Runtime, plan_id: str, level: str) -> int:
    loaded = runtime.plans.get(plan_id)
    rules = loaded.plan.levels.get(level) if loaded else None  # type: ignore[call-overload]
    return len(rules.escalation.flat_steps()) if rules and rules.escalation else 0


async def undelivered(
    session: AsyncSession, runtime: Runtime, units: list[str], now: datetime
) -> list[tuple[MessageRow, str]]:
    rows = await session.execute(
        select(MessageRow, IncidentRow.unit_id)
        .join(IncidentRow, IncidentRow.id == MessageRow.incident_id)
        .where(
            MessageRow.state == MessageState.failed,
            MessageRow.created_at > now - UNDELIVERED_SINCE,
            IncidentRow.unit_id.in_(units),
        )
        .order_by(MessageRow.id.desc())
        .limit(50)
    )
    people = runtime.roster.people
    return [
        (m, people[m.person_id].name if m.person_id in people else m.person_id)
        for m, _ in rows.all()
    ]


GAPS_FRESH = timedelta(minutes=5)
_gaps_seen: dict[tuple[int, int, tuple[str, ...], int], list[Violation]] = {}


def coverage_gaps(runtime: Runtime, units: list[str], now: datetime) -> list[Violation]:
    """Gaps and breaches in the next 72 hours. They change with the roster, not with each
    incident, so a board refreshed at every change reuses them for a few minutes (per
    roster in force and set of units)."""
    slot = int(now.timestamp() // GAPS_FRESH.total_seconds())
    key = (id(runtime), runtime.roster_version, tuple(units), slot)
    found = _gaps_seen.get(key)
    if found is None:
        found = check_roster(
            runtime.roster, runtime.rules, runtime.calendar, now, now + GAPS_AHEAD, units
        )
        if len(_gaps_seen) > 64:
            _gaps_seen.clear()
        _gaps_seen[key] = found
    return found


async def build_board(
    session: AsyncSession,
    runtime: Runtime,
    units: list[str],
    now: datetime,
    *,
    with_gaps: bool = True,
) -> Board:
    return Board(
        now=now,
        units=[unit_now(runtime, u, now) for u in units],
        incidents=await open_incident_lines(session, runtime, units, now),
        undelivered=await undelivered(session, runtime, units, now),
        gaps=coverage_gaps(runtime, units, now) if with_gaps else [],
    )


async def changed_rows(
    session: AsyncSession, runtime: Runtime, units: list[str], now: datetime, ids: frozenset[int]
) -> tuple[list[IncidentLine], list[int]]:
    """For a live update: the lines of the touched incidents still open in scope, and the
    touched ones of the scope that are open no more (their rows leave the board)."""
    lines = await open_incident_lines(session, runtime, units, now, only=ids)
    shown = {line.incident.id for line in lines}
    in_scope = await session.scalars(
        select(IncidentRow.id).where(
            IncidentRow.id.in_(sorted(ids)), IncidentRow.unit_id.in_(units)
        )
    )
    return lines, sorted(set(in_scope) - shown)
