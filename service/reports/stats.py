"""Report figures: on time, late, missing and pending per unit, and the open duties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
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
    """For duties falling due in [start, end): on time, late, missing (overdue), pending."""
    query = (
        select(IncidentRow.unit_id, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(
            ReportDutyRow.due_at >= start,
            ReportDutyRow.due_at < end,
            ReportDutyRow.state != DutyState.cancelled,
            IncidentRow.drill_id.is_(None),
        )
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    counts: dict[str, list[int]] = {}
    for unit_id, duty in (await session.execute(query)).all():
        bucket = counts.setdefault(unit_id, [0, 0, 0, 0])
        if duty.state == DutyState.submitted:
            bucket[1 if duty.late else 0] += 1
        elif duty.state == DutyState.missing or duty.due_at <= now:
            bucket[2] += 1
        else:
            bucket[3] += 1
    return [UnitReportStats(u, *c) for u, c in sorted(counts.items())]


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
