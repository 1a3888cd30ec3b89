"""Duty spot-checks (查岗) in the console: the month's checks per unit (made, answered,
median answer time, lapses and whose) and the latest checks asked or planned."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from service.flows.spotchecks import answer_spot_check
from service.roster.shifts import wall_to_utc
from service.spotchecks.service import month_figures
from service.spotchecks.tables import SpotCheckRow
from service.web.access import console_access
from service.web.context import DutydDep, FormViewer, ViewerDep
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


@router.get("/spot-checks/mine")
async def my_check(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    """The banner every console page polls: the viewer's spot-check waiting for an answer,
    with the button that answers it; nothing when there is none."""
    async with dutyd.reads() as session:
        row = await session.scalar(
            select(SpotCheckRow)
            .where(SpotCheckRow.person_id == viewer.person_id, SpotCheckRow.state == "asked")
            .order_by(SpotCheckRow.asked_at.desc())
            .limit(1)
        )
    if row is None:
        return HTMLResponse("")
    zone = ZoneInfo(dutyd.settings.timezone)
    return page(
        "_spot_check_banner.html.j2",
        viewer.language,
        viewer=viewer,
        check=row,
        until=row.next_at.astimezone(zone).strftime("%H:%M"),
    )


@router.post("/spot-checks/answer")
async def answer(dutyd: DutydDep, viewer: FormViewer) -> Response:
    """The duty officer at the console confirms being at the post (查岗: a click)."""
    async with dutyd.sessions.begin() as session:
        answered = await answer_spot_check(
            session, viewer.person_id, dutyd.clock.now(), via="console"
        )
    if answered is None:
        return HTMLResponse("", status_code=409)
    return RedirectResponse("/console", status_code=303)
