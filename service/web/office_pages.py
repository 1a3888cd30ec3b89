"""The roster month by unit (who is on each shift, gaps and breaches marked), overrides
requested and approved, the handover (交接班), and the plans in force."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from service.auth.policy import Action
from service.auth.tokens import Role
from service.catalog import Category, Level
from service.errors import DutydError, Forbidden
from service.office.handover import confirm_handover, start_handover
from service.office.overrides import approve_override, request_override
from service.office.tables import HandoverRow
from service.plans.selection import choose_plan
from service.plans.show import describe
from service.roster.check import check_roster
from service.roster.shifts import wall_to_utc
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values, parse_local
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
ROLES = ("duty_officer", "leader_on_shift")


def _month(text: str | None, today: date) -> date:
    try:
        year, month = (int(x) for x in (text or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


async def _roster_page(
    dutyd: DutydDep,
    viewer: Viewer,
    unit: str | None,
    month: str | None,
    *,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = viewer.units(roster)
    unit_id = unit if unit in units else units[0]
    zone = roster.unit(unit_id).zone
    now = dutyd.clock.now()
    first = _month(month, now.astimezone(zone).date())
    days = [
        first + timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])
    ]
    start = wall_to_utc(datetime.combine(first, time()), zone)
    end = wall_to_utc(datetime.combine(days[-1] + timedelta(days=1), time()), zone)
    shifts: dict[tuple[date, str], list[str]] = {}
    for role in ROLES:
        for a in roster.assignments(unit_id, role, start, end):
            day = a.start.astimezone(zone).date()
            name = roster.people[a.person].name if a.person in roster.people else a.person
            shifts.setdefault((day, role), [])
            if name not in shifts[(day, role)]:
                shifts[(day, role)].append(name)
    breaches = check_roster(
        roster, dutyd.runtime.rules, dutyd.runtime.calendar, start, end, [unit_id]
    )
    marked = {b.start.astimezone(zone).date() for b in breaches}
    async with dutyd.reads() as session:
        handovers = list(
            await session.scalars(
                select(HandoverRow)
                .where(HandoverRow.unit_id == unit_id)
                .order_by(HandoverRow.id.desc())
                .limit(5)
            )
        )
    pending = [o for o in roster.document.overrides if o.unit == unit_id and o.approved_by is None]
    previous = (first - timedelta(days=1)).replace(day=1)
    following = days[-1] + timedelta(days=1)
    return page(
        "roster.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        units=[roster.unit(u) for u in units],
        unit=roster.unit(unit_id),
        zone=zone,
        first=first,
        days=days,
        lead=first.weekday(),
        shifts=shifts,
        marked=marked,
        breaches=breaches,
        pending=pending,
        handovers=handovers,
        people=sorted(roster.people.values(), key=lambda p: (p.unit != unit_id, p.id)),
        names={p.id: p.name for p in roster.people.values()},
        previous=f"{previous:%Y-%m}",
        following=f"{following:%Y-%m}",
        may_request=viewer.may(Action.request_override, unit_id, roster),
        may_approve=viewer.may(Action.approve_override, unit_id, roster),
        may_hand_over=viewer.may(Action.handover, unit_id, roster),
        error=error,
    )


@router.get("/roster")
async def roster_page(
    dutyd: DutydDep, viewer: ViewerDep, unit: str | None = None, month: str | None = None
) -> HTMLResponse:
    return await _roster_page(dutyd, viewer, unit, month)


async def _office_action(
    request: Request, dutyd: DutydDep, viewer: Viewer, action: str, target: str | None
) -> Response:
    values = await form_values(request)
    roster, now = dutyd.runtime.roster, dutyd.clock.now()
    unit_id = values.get("unit", "")
    if unit_id not in roster.units:
        return await _roster_page(
            dutyd, viewer, None, None, error=f"unknown unit {unit_id!r}", status=422
        )
    zone = roster.unit(unit_id).zone
    try:
        async with dutyd.sessions.begin() as session:
            if action == "override":
                approve = values.get("approve") == "yes"
                override, data = request_override(
                    roster,
                    unit=unit_id,
                    role=values.get("role", ""),
                    start=_when(values, "start", zone),
                    end=_when(values, "end", zone),
                    person=values.get("person", ""),
                    replaces=values.get("replaces") or None,
                    reason=values.get("reason", ""),
                    requested_by=viewer.person_id,
                    approved_by=viewer.person_id if approve else None,
                    actor=viewer.person_id,
                    actor_role=Role.leader if approve else Role.duty_officer,
                    now=now,
                )
                await dutyd.store_roster(
                    session,
                    data,
                    actor=viewer.person_id,
                    comment=f"override {override.id}",
                    source="override",
                )
            elif action == "approve" and target:
                data = approve_override(
                    roster, target, approver=viewer.person_id, approver_role=Role.leader, now=now
                )
                await dutyd.store_roster(
                    session,
                    data,
                    actor=viewer.person_id,
                    comment=f"approved {target}",
                    source="approval",
                )
            elif action == "handover":
                await start_handover(
                    session,
                    roster,
                    unit_id=unit_id,
                    outgoing=viewer.person_id,
                    notes=values.get("notes", ""),
                    now=now,
                )
            elif action == "confirm" and target:
                await confirm_handover(
                    session, roster, handover_id=int(target), person=viewer.person_id, now=now
                )
    except Forbidden as exc:
        raise ConsoleForbidden(str(exc)) from None
    except (DutydError, ValueError) as exc:
        message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return await _roster_page(dutyd, viewer, unit_id, None, error=message, status=422)
    return RedirectResponse(f"/console/roster?unit={unit_id}", status_code=303)


def _when(values: dict[str, Any], name: str, zone: Any) -> datetime:
    at = parse_local(values.get(name, ""), zone, name)
    if at is None:
        raise ValueError(f"{name}: required")
    return at


@router.post("/roster/overrides")
async def add_override(request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    return await _office_action(request, dutyd, viewer, "override", None)


@router.post("/roster/overrides/{override_id}/approve")
async def approve(
    override_id: str, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    return await _office_action(request, dutyd, viewer, "approve", override_id)


@router.post("/handover")
async def hand_over(request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    return await _office_action(request, dutyd, viewer, "handover", None)


@router.post("/handover/{handover_id:int}/confirm")
async def confirm(
    handover_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    return await _office_action(request, dutyd, viewer, "confirm", str(handover_id))


@router.get("/plans")
async def plans_page(
    dutyd: DutydDep,
    viewer: ViewerDep,
    category: Category | None = None,
    event_type: str | None = None,
    level: Level | None = None,
    unit: str | None = None,
) -> HTMLResponse:
    runtime = dutyd.runtime
    effective, reason, error = "", "", ""
    if category and event_type and level and unit:
        try:
            choice = choose_plan(
                runtime.plans,
                runtime.roster,
                category=category,
                event_type=event_type,
                level=level,
                unit_id=unit,
            )
            effective, reason = describe(choice.plan.plan, [level]), choice.reason
        except DutydError as exc:
            error = str(exc)
    return page(
        "plans.html.j2",
        viewer.language,
        viewer=viewer,
        plans=runtime.plans,
        reload=dutyd.last_reload,
        units=[runtime.roster.unit(u) for u in viewer.units(runtime.roster)],
        categories=list(Category),
        levels=list(Level),
        query={"category": category, "event_type": event_type, "level": level, "unit": unit},
        effective=effective,
        reason=reason,
        error=error,
    )
