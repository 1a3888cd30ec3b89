"""The figures a duty office is judged by, per unit and period, read from each subject's
own rows: incidents by category and level, time to acknowledge and to resolve, reports on
time / late (迟报) / missing (漏报), assignments closed on time (办结率), spot-checks
answered, warnings published and their reach; and the late-report accountability list."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Numeric,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from service.incidents.tables import IncidentRow
from service.instructions.service import closure_rates
from service.reports.names import duty_names
from service.reports.stats import report_stats
from service.reports.tables import DutyState, ReportDutyRow
from service.spotchecks.service import month_figures
from service.store.database import is_postgres
from service.warnings.models import CapStatus
from service.warnings.tables import WarningRow


@dataclass
class UnitFigures:
    unit: str
    incidents: dict[str, int] = field(default_factory=dict)  # "category/level" -> count
    acknowledged: int = 0
    mean_seconds_to_acknowledge: float | None = None
    resolved: int = 0
    mean_seconds_to_resolve: float | None = None
    reports_on_time: int = 0
    reports_late: int = 0
    reports_missing: int = 0
    assignments: int = 0
    assignments_closed_on_time: int = 0
    spot_checks: int = 0
    spot_checks_answered: int = 0
    spot_check_lapses: int = 0
    warnings_published: int = 0
    warning_recipients: int = 0


def _elapsed_sums(postgres: bool, later: Any, earlier: Any) -> list[ColumnElement[Any]]:
    """Two sums over a group's rows of `later - earlier`, exact to the microsecond, that
    `_microseconds` adds up. PostgreSQL: the sum of the intervals (whole microseconds and
    days), as numeric seconds. SQLite holds times as text, 'YYYY-MM-DD HH:MM:SS.ffffff':
    whole seconds from the first 19 characters and microseconds from the rest, each
    summed apart as integers (one sum of microseconds could overflow)."""
    if postgres:
        elapsed = type_coerce(later, DateTime(timezone=True)) - type_coerce(
            earlier, DateTime(timezone=True)
        )
        return [cast(extract("epoch", func.sum(elapsed)), Numeric()), literal(0)]

    def whole(at: Any) -> ColumnElement[int]:
        return cast(func.strftime("%s", func.substr(at, 1, 19)), Integer)

    def micro_of(at: Any) -> ColumnElement[int]:
        return cast(func.substr(at, 21), Integer)

    return [func.sum(whole(later) - whole(earlier)), func.sum(micro_of(later) - micro_of(earlier))]


def _microseconds(seconds: Any, micro: Any) -> int:
    return round(Decimal(seconds or 0) * 1_000_000) + int(micro or 0)


def _mean(total_microseconds: int, count: int) -> float | None:
    return round(total_microseconds / (count * 1_000_000), 1) if count else None


async def office_figures(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime, unit: str | None
) -> list[UnitFigures]:
    """Every figure counted and summed in the database: one row per unit (incidents: per
    unit, category and level), never a row per incident or per report."""
    units: dict[str, UnitFigures] = {}

    def of(unit_id: str) -> UnitFigures:
        return units.setdefault(unit_id, UnitFigures(unit_id))

    # A drill's incidents, reports and assignments are the drill report's, not the figures'.
    postgres = is_postgres(session)
    learned = IncidentRow.learned_at
    query = (
        select(
            IncidentRow.unit_id,
            IncidentRow.category,
            IncidentRow.level,
            func.count(),
            func.count(IncidentRow.acknowledged_at),
            *_elapsed_sums(postgres, IncidentRow.acknowledged_at, learned),
            func.count(IncidentRow.resolved_at),
            *_elapsed_sums(postgres, IncidentRow.resolved_at, learned),
        )
        .where(learned >= start, learned < end, IncidentRow.drill_id.is_(None))
        .group_by(IncidentRow.unit_id, IncidentRow.category, IncidentRow.level)
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    counts: dict[str, Counter[str]] = {}
    times: dict[str, list[int]] = {}  # unit -> acknowledged, µs to it, resolved, µs to it
    for unit_id, category, level, n, acks, ack_s, ack_us, fixes, fix_s, fix_us in (
        await session.execute(query)
    ).all():
        counts.setdefault(unit_id, Counter())[f"{category}/{level}"] += n
        summed = times.setdefault(unit_id, [0, 0, 0, 0])
        summed[0] += acks
        summed[1] += _microseconds(ack_s, ack_us)
        summed[2] += fixes
        summed[3] += _microseconds(fix_s, fix_us)
    for unit_id, counted in counts.items():
        entry = of(unit_id)
        entry.incidents = dict(sorted(counted.items()))
        acks, to_ack, fixes, to_fix = times[unit_id]
        entry.acknowledged, entry.resolved = acks, fixes
        entry.mean_seconds_to_acknowledge = _mean(to_ack, acks)
        entry.mean_seconds_to_resolve = _mean(to_fix, fixes)
    for stats in await report_stats(session, start=start, end=end, now=now, unit=unit):
        entry = of(stats.unit)
        entry.reports_on_time, entry.reports_late, entry.reports_missing = (
            stats.on_time,
            stats.late,
            stats.missing,
        )
    for rate in await closure_rates(session, start, end, now, unit):
        of(rate.unit).assignments, of(rate.unit).assignments_closed_on_time = (
            rate.assigned,
            rate.closed_on_time,
        )
    for checks in await month_figures(session, start, end, unit, counts_only=True):
        entry = of(checks.unit)
        entry.spot_checks, entry.spot_checks_answered, entry.spot_check_lapses = (
            checks.checks,
            checks.answered,
            checks.lapses,
        )
    published = (
        select(WarningRow.unit_id, func.count(), func.coalesce(func.sum(WarningRow.targeted), 0))
        .where(
            WarningRow.published_at >= start,
            WarningRow.published_at < end,
            WarningRow.status == CapStatus.Actual.value,
        )
        .group_by(WarningRow.unit_id)
    )
    if unit is not None:
        published = published.where(WarningRow.unit_id == unit)
    for unit_id, count, reached in await session.execute(published):
        of(unit_id).warnings_published, of(unit_id).warning_recipients = count, int(reached)
    return [units[u] for u in sorted(units)]


@dataclass(frozen=True)
class LateReport:
    incident_id: int
    unit: str
    report: dict[str, str]
    responsible: str
    due_at: datetime
    submitted_at: datetime | None
    delay_seconds: float
    state: str  # late (迟报) or missing (漏报)
    explanation: str


async def late_reports(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime, unit: str | None
) -> list[LateReport]:
    """Each report due in the period made late or never made, with whose it was."""
    # Only the late and missing ones leave the database (the rest are most of them). One
    # CASE, not an OR of state tests: SQLite (no statistics) would read each state's rows
    # through ix_report_duties_next instead of the period's through ix_report_duties_due.
    late_or_missing = case(
        (ReportDutyRow.state == DutyState.submitted, ReportDutyRow.late),
        (ReportDutyRow.state == DutyState.missing, true()),
        (ReportDutyRow.state == DutyState.open, ReportDutyRow.due_at <= now),
        else_=false(),
    )
    query = (
        select(IncidentRow.unit_id, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(
            ReportDutyRow.due_at >= start,
            ReportDutyRow.due_at < end,
            IncidentRow.drill_id.is_(None),
            late_or_missing,
        )
        .options(  # what the list and duty_names read, not the recipients, content, …
            load_only(
                ReportDutyRow.incident_id,
                ReportDutyRow.kind,
                ReportDutyRow.sequence,
                ReportDutyRow.names,
                ReportDutyRow.responsible_desc,
                ReportDutyRow.due_at,
                ReportDutyRow.state,
                ReportDutyRow.late,
                ReportDutyRow.submitted_at,
                ReportDutyRow.late_explanation,
                raiseload=True,
            )
        )
        .order_by(ReportDutyRow.due_at, ReportDutyRow.id)
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    found = []
    for unit_id, duty in (await session.execute(query)).all():
        late = duty.state == DutyState.submitted and duty.late
        missing = duty.state == DutyState.missing or (
            duty.state == DutyState.open and duty.due_at <= now
        )
        if not (late or missing):
            continue
        made = duty.submitted_at if late else None
        found.append(
            LateReport(
                incident_id=duty.incident_id,
                unit=unit_id,
                report=duty_names(duty),
                responsible=duty.responsible_desc,
                due_at=duty.due_at,
                submitted_at=made,
                delay_seconds=((made or now) - duty.due_at).total_seconds(),
                state="late" if late else "missing",
                explanation=duty.late_explanation or "",
            )
        )
    return found
