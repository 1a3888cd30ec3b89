"""Report figures: on time, late, missing and pending per unit, and the open duties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from service.incidents.tables import IncidentRow
from service.reports.tables import DutyState, ReportDutyRow


@dataclass(frozen=True)
class UnitReportStats:
    unit: str
    on_time: int
    late: int
    missing: int
    pending: int


async def report_stats(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime, unit: str | None = None
) -> list[UnitReportStats]:
    """For duties falling due in [start, end): on time, late, missing (overdue), pending.
    Counted in the database, one row per unit."""
    submitted = ReportDutyRow.state == DutyState.submitted
    missing = and_(
        ~submitted,
        or_(ReportDutyRow.state == DutyState.missing, ReportDutyRow.due_at <= now),
    )
    query = (
        select(
            IncidentRow.unit_id,
            func.count(),
            func.sum(case((and_(submitted, ReportDutyRow.late == false()), 1), else_=0)),
            func.sum(case((and_(submitted, ReportDutyRow.late == true()), 1), else_=0)),
            func.sum(case((missing, 1), else_=0)),
        )
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(
            ReportDutyRow.due_at >= start,
            ReportDutyRow.due_at < end,
            ReportDutyRow.state != DutyState.cancelled,
            IncidentRow.drill_id.is_(None),
        )
        .group_by(IncidentRow.unit_id)
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    found = []
    for unit_id, duties, on_time, late, overdue in sorted((await session.execute(query)).all()):
        on_time, late, overdue = int(on_time), int(late), int(overdue)
        found.append(
            UnitReportStats(unit_id, on_time, late, overdue, duties - on_time - late - overdue)
        )
    return found


async def open_duties(
    session: AsyncSession, *, now: datetime, overdue_only: bool, unit: str | None = None
) -> list[tuple[IncidentRow, ReportDutyRow]]:
    query = (
        select(IncidentRow, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(ReportDutyRow.state == DutyState.open)
        .order_by(ReportDutyRow.due_at)
    )
    if overdue_only:
        query = query.where(ReportDutyRow.due_at <= now)
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    return [(i, d) for i, d in (await session.execute(query)).all()]
