"""Leaders' instructions (领导批示) and their assignments (交办) in the console: the
instruction written on an incident's page, each assignment answered by its unit and
accepted or sent back by the leader, and the open and overdue ones with the month's
closure rate (办结率) per unit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from service.errors import DutydError, Forbidden
from service.flows import instructions as flow
from service.instructions.service import AssignmentSpec, InstructionRequest, closure_rates
from service.instructions.tables import AssignmentRow
from service.roster.shifts import wall_to_utc
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values, parse_local
from service.web.incident_pages import INSTRUCTION_ROWS, render_incident_page
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)


def _request(values: dict[str, Any], zone: ZoneInfo, leader: str) -> InstructionRequest:
    specs = []
    for n in range(INSTRUCTION_ROWS):
        task = values.get(f"task_{n}", "").strip()
        if not task:
            continue
        deadline = parse_local(values.get(f"deadline_{n}", ""), zone, f"deadline_{n}")
        specs.append(
            AssignmentSpec(
                unit=values.get(f"unit_{n}", ""),
                person=values.get(f"person_{n}") or None,
                task=task,
                deadline=deadline,  # type: ignore[arg-type]  # None is refused by the model
                returns=values.get(f"returns_{n}", "answer"),  # type: ignore[arg-type]
            )
        )
    return InstructionRequest(text=values.get("text", ""), leader=leader, assignments=specs)


async def _back(dutyd: DutydDep, viewer: Viewer, incident_id: int, error: str) -> Response:
    """The incident's page again, saying what was refused."""
    return await render_incident_page(dutyd, viewer, incident_id, error=error, status=422)


@router.post("/instructions/{incident_id:int}")
async def give(incident_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    values = await form_values(request)
    roster = dutyd.runtime.roster
    zone = ZoneInfo(dutyd.settings.timezone)
    try:
        body = _request(values, zone, viewer.person_id)
        async with dutyd.sessions.begin() as session:
            await flow.give_instruction(
                session,
                roster,
                incident_id,
                body,
                actor=viewer.person_id,
                via="console",
                now=dutyd.clock.now(),
            )
    except Forbidden as exc:
        raise ConsoleForbidden(str(exc)) from None
    except (DutydError, ValidationError, ValueError) as exc:
        message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return await _back(dutyd, viewer, incident_id, message)
    dutyd.wake()
    return RedirectResponse(f"/console/incidents/{incident_id}#instructions", status_code=303)


async def _assignment(dutyd: DutydDep, assignment_id: int) -> AssignmentRow | None:
    async with dutyd.reads() as session:
        return await session.get(AssignmentRow, assignment_id)


@router.post("/assignments/{assignment_id:int}/answer")
async def answer(
    assignment_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    return await _work(assignment_id, "answer", request, dutyd, viewer)


@router.post("/assignments/{assignment_id:int}/decide")
async def decide(
    assignment_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    return await _work(assignment_id, "decide", request, dutyd, viewer)


async def _work(
    assignment_id: int, verb: str, request: Request, dutyd: DutydDep, viewer: Viewer
) -> Response:
    values = await form_values(request)
    row = await _assignment(dutyd, assignment_id)
    if row is None:
        return page(
            "error.html.j2",
            viewer.language,
            status_code=404,
            viewer=viewer,
            message=f"assignment {assignment_id} not found",
        )
    roster, now = dutyd.runtime.roster, dutyd.clock.now()
    try:
        async with dutyd.sessions.begin() as session:
            if verb == "answer":
                await flow.answer_assignment(
                    session,
                    roster,
                    assignment_id,
                    values.get("answer", "").strip(),
                    actor=viewer.person_id,
                    now=now,
                )
            else:
                await flow.decide_assignment(
                    session,
                    roster,
                    assignment_id,
                    accept=values.get("accept") == "yes",
                    comment=values.get("comment", ""),
                    actor=viewer.person_id,
                    now=now,
                )
    except Forbidden as exc:
        raise ConsoleForbidden(str(exc)) from None
    except (DutydError, ValidationError) as exc:
        message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return await _back(dutyd, viewer, row.incident_id, message)
    dutyd.wake()
    back = values.get("back") or f"/console/incidents/{row.incident_id}#instructions"
    return RedirectResponse(back if back.startswith("/console/") else "/console", 303)


@router.get("/assignments")
async def assignments_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = viewer.units(roster)
    now = dutyd.clock.now()
    zone = ZoneInfo(dutyd.settings.timezone)
    first = now.astimezone(zone).date().replace(day=1)
    start = wall_to_utc(datetime.combine(first, time()), zone)
    following = (first + timedelta(days=32)).replace(day=1)
    end = wall_to_utc(datetime.combine(following, time()), zone)
    async with dutyd.reads() as session:
        rows = [
            r
            for r in await session.scalars(
                select(AssignmentRow)
                .where(AssignmentRow.state != "closed")
                .order_by(AssignmentRow.deadline)
            )
            if r.unit_id in units
        ]
        rates = [r for r in await closure_rates(session, start, end, now) if r.unit in units]
    return page(
        "assignments.html.j2",
        viewer.language,
        viewer=viewer,
        rows=rows,
        rates=rates,
        month=f"{first:%Y-%m}",
        now=now,
        zone=zone,
        names={u: roster.unit(u).name for u in roster.units},
        people={p.id: p.name for p in roster.people.values()},
    )
