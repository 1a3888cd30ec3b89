"""The figures a duty office is judged by, per unit and period, read from each subject's
own rows: incidents by category and level, time to acknowledge and to resolve, reports on
time / late (迟报) / missing (漏报), assignments closed on time (办结率), spot-checks
answered, warnings published and their reach; and the late-report accountability list."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.incidents.tables import IncidentRow
from service.instructions.service import closure_rates
from service.reports.names import duty_names
from service.reports.stats import report_stats
from service.reports.tables import DutyState, ReportDutyRow
from service.spotchecks.service import month_figures
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


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


async def office_figures(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime, unit: str | None
) -> list[UnitFigures]:
    units: dict[str, UnitFigures] = {}

    def of(unit_id: str) -> UnitFigures:
        return units.setdefault(unit_id, UnitFigures(unit_id))

    # A drill's incidents, reports and assignments are the drill report's, not the figures'.
    query = select(IncidentRow).where(
        IncidentRow.learned_at >= start,
        IncidentRow.learned_at < end,
        IncidentRow.drill_id.is_(None),
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    acks: dict[str, list[float]] = {}
    fixes: dict[str, list[float]] = {}
    counts: dict[str, Counter[str]] = {}
    for incident in await session.scalars(query):
        counts.setdefault(incident.unit_id, Counter())[f"{incident.category}/{incident.level}"] += 1
        if incident.acknowledged_at is not None:
            acks.setdefault(incident.unit_id, []).append(
                (incident.acknowledged_at - incident.learned_at).total_seconds()
            )
        if incident.resolved_at is not None:
            fixes.setdefault(incident.unit_id, []).append(
                (incident.resolved_at - incident.learned_at).total_seconds()
            )
    for unit_id, counted in counts.items():
        entry = of(unit_id)
        entry.incidents = dict(sorted(counted.items()))
        entry.acknowledged, entry.resolved = len(acks.get(unit_id, [])), len(fixes.get(unit_id, []))
        entry.mean_seconds_to_acknowledge = _mean(acks.get(unit_id, []))
        entry.mean_seconds_to_resolve = _mean(fixes.get(unit_id, []))
    for stats in await report_stats(session, start=start, end=end, now=now, unit=unit):
        entry = of(stats.unit)
        entry.reports_on_time, entry.reports_late, entry.reports_missing = (
            stats.on_time,
            stats.late,
            stats.missing,
        )
    for rate in await closure_rates(session, start, end, now):
        if unit is None or rate.unit == unit:
            of(rate.unit).assignments, of(rate.unit).assignments_closed_on_time = (
                rate.assigned,
                rate.closed_on_time,
            )
    for checks in await month_figures(session, start, end):
        if unit is None or checks.unit == unit:
            entry = of(checks.unit)
            entry.spot_checks, entry.spot_checks_answered, entry.spot_check_lapses = (
                checks.checks,
                checks.answered,
                checks.lapses,
            )
    published = await session.execute(
        select(WarningRow.unit_id, func.count(), func.coalesce(func.sum(WarningRow.targeted), 0))
        .where(
            WarningRow.published_at >= start,
            WarningRow.published_at < end,
            WarningRow.status == CapStatus.Actual.value,
        )
        .group_by(WarningRow.unit_id)
    )
    for unit_id, count, reached in published:
        if unit is None or unit_id == unit:
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
    query = (
        select(IncidentRow.unit_id, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(
            ReportDutyRow.due_at >= start,
            ReportDutyRow.due_at < end,
            IncidentRow.drill_id.is_(None),
        )
        .order_by(ReportDutyRow.due_at)
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
