"""The monthly duty report (月度值班通报) gathered from the figures: the month per unit,
its late and missing reports, the on-time rate over six months, and the spread of
acknowledgement times and of incidents over the hours of the day."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.bulletin.models import LateLine, MonthlyBulletin, UnitLine
from service.errors import InvalidInput
from service.flows.statistics import UnitFigures, late_reports, office_figures
from service.incidents.tables import IncidentRow
from service.reports.stats import report_stats
from service.roster.roster import Roster
from service.roster.shifts import wall_to_utc

SERIES_MONTHS = 6


def parse_month(text: str) -> date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise InvalidInput(
            f"month {text!r}: write it as YYYY-MM, e.g. 2026-07", field="month"
        ) from None


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _bounds(first: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        wall_to_utc(datetime.combine(first, time()), zone),
        wall_to_utc(datetime.combine(_shift(first, 1), time()), zone),
    )


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _line(unit: str, name: str, f: UnitFigures | None) -> UnitLine:
    f = f or UnitFigures(unit)
    by_category: dict[str, int] = {}
    for key, count in f.incidents.items():
        category = key.split("/", 1)[0]
        by_category[category] = by_category.get(category, 0) + count
    return UnitLine(
        unit=unit,
        name=name,
        incidents=sum(f.incidents.values()),
        by_category=by_category,
        acknowledged=f.acknowledged,
        mean_minutes_to_acknowledge=_minutes(f.mean_seconds_to_acknowledge),
        resolved=f.resolved,
        mean_minutes_to_resolve=_minutes(f.mean_seconds_to_resolve),
        reports_on_time=f.reports_on_time,
        reports_late=f.reports_late,
        reports_missing=f.reports_missing,
        assignments=f.assignments,
        assignments_closed_on_time=f.assignments_closed_on_time,
        spot_checks=f.spot_checks,
        spot_checks_answered=f.spot_checks_answered,
        spot_check_lapses=f.spot_check_lapses,
        warnings_published=f.warnings_published,
        warning_recipients=f.warning_recipients,
    )


async def monthly_bulletin(
    session: AsyncSession,
    roster: Roster,
    *,
    month: str,
    units: list[str],
    zone: ZoneInfo,
    language: str,
    now: datetime,
) -> MonthlyBulletin:
    """The report for `month` (YYYY-MM, on the office's clock) and the units chosen."""
    first = parse_month(month)
    for unit in units:
        roster.unit(unit)
    chosen = set(units)
    names = {u: roster.units[u].name for u in units}
    start, end = _bounds(first, zone)
    figures = {
        f.unit: f for f in await office_figures(session, start=start, end=end, now=now, unit=None)
    }
    late = [
        LateLine(
            unit=names[r.unit],
            incident_id=r.incident_id,
            report=r.report.get(language, r.report.get("zh", "")),
            responsible=r.responsible,
            due_at=r.due_at,
            submitted_at=r.submitted_at,
            delay_minutes=int(r.delay_seconds // 60),
            state=r.state,
            explanation=r.explanation,
        )
        for r in await late_reports(session, start=start, end=end, now=now, unit=None)
        if r.unit in chosen
    ]
    months = [_shift(first, -back) for back in range(SERIES_MONTHS - 1, -1, -1)]
    series: dict[str, list[float | None]] = {names[u]: [] for u in units}
    for each in months:
        lo, hi = _bounds(each, zone)
        rates = {
            s.unit: s.on_time / made
            for s in await report_stats(session, start=lo, end=hi, now=now)
            if (made := s.on_time + s.late + s.missing)
        }
        for unit in units:
            series[names[unit]].append(rates.get(unit))
    learned = (
        await session.execute(
            select(IncidentRow.unit_id, IncidentRow.learned_at, IncidentRow.acknowledged_at).where(
                IncidentRow.learned_at >= start,
                IncidentRow.learned_at < end,
                IncidentRow.drill_id.is_(None),
            )
        )
    ).all()
    by_hour = [0] * 24
    ack_minutes = []
    for unit, learned_at, acknowledged_at in learned:
        if unit not in chosen:
            continue
        by_hour[learned_at.astimezone(zone).hour] += 1
        if acknowledged_at is not None:
            ack_minutes.append(round((acknowledged_at - learned_at).total_seconds() / 60, 1))
    top = roster.top_unit(units[0]) if units else None
    return MonthlyBulletin(
        office=top.name if top else "",
        month=f"{first:%Y-%m}",
        timezone=str(zone),
        generated_at=now,
        units=[_line(u, names[u], figures.get(u)) for u in units],
        late=late,
        months=[f"{m:%Y-%m}" for m in months],
        on_time_series=series,
        ack_minutes=sorted(ack_minutes),
        learned_by_hour=by_hour,
    )
