"""Duty spot-checks (查岗) in the console: the month's checks per unit (made, answered,
median answer time, lapses and whose) and the latest checks asked or planned."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from service.roster.shifts import wall_to_utc
from service.spotchecks.service import month_figures
from service.spotchecks.tables import SpotCheckRow
from service.web.access import console_access
from service.web.context import DutydDep, ViewerDep
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
LATEST = 50


@router.get("/spot-checks")
async def spot_checks_page(
    dutyd: DutydDep, viewer: ViewerDep, month: str | None = None
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = viewer.units(roster)
    zone = ZoneInfo(dutyd.settings.timezone)
    now = dutyd.clock.now()
    try:
        year, number = (int(x) for x in (month or "").split("-"))
        first = datetime(year, number, 1).date()
    except ValueError:
        first = now.astimezone(zone).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = wall_to_utc(datetime.combine(first, time()), zone)
    end = wall_to_utc(datetime.combine(following, time()), zone)
    async with dutyd.reads() as session:
        figures = [f for f in await month_figures(session, start, end) if f.unit in units]
        latest = list(
            await session.scalars(
                select(SpotCheckRow)
                .where(SpotCheckRow.unit_id.in_(units), SpotCheckRow.planned_at <= now)
                .order_by(SpotCheckRow.planned_at.desc())
                .limit(LATEST)
            )
        )
    return page(
        "spot_checks.html.j2",
        viewer.language,
        viewer=viewer,
        month=f"{first:%Y-%m}",
        figures=figures,
        latest=latest,
        zone=zone,
        names={u: roster.unit(u).name for u in roster.units},
        people={p.id: p.name for p in roster.people.values()},
        minutes=lambda seconds: f"{seconds / 60:.1f}",
    )
