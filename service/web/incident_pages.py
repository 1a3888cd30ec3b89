"""Logging an incident (接报登记) and working it: its page, and every action on it, each
asking what the API asks and landing on the timeline with the officer's name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.policy import Action
from service.catalog import CATEGORY_NAMES, EVENT_TYPES, Category, Level
from service.errors import DutydError, Forbidden, NotFound
from service.flows import casualties, incidents
from service.flows.incident_detail import get_incident_detail
from service.flows.instructions import instructions_of_incident
from service.flows.warning_intake import draft_from_incident
from service.flows.warnings import WarningDesk, run_step
from service.incidents.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    CasualtyUpdate,
    IncidentReport,
    IncidentStatus,
    ReceivedVia,
)
from service.incidents.tables import IncidentRow
from service.reports.duties import ReportKind
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values, local_input, parse_local
from service.web.render import page
from service.web.timeline_text import Scene, sentence

# Assignments one instruction form offers (service.web.assignment_pages reads them).
INSTRUCTION_ROWS = 3
router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
FIGURES = ("deaths", "seriously_injured", "injured", "missing", "trapped", "evacuated")
INTAKE = ("reporter_name", "reporter_unit", "reporter_phone", "actions_taken", "others_told")


def _form_page(
    dutyd: DutydDep,
    viewer: Viewer,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    duplicates: list[IncidentRow] | None = None,
    status: int = 200,
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = [u for u in viewer.units(roster) if viewer.may(Action.report_incident, u, roster)]
    return page(
        "incident_new.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        units=[roster.unit(u) for u in units],
        categories=[(c, CATEGORY_NAMES[c], EVENT_TYPES[c]) for c in Category],
        levels=list(Level),
        ways=list(ReceivedVia),
        figures=FIGURES,
        values=values,
        errors=errors or {},
        duplicates=duplicates or [],
    )


@router.get("/incidents/new")
async def new_incident(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = viewer.units(roster)
    zone = roster.unit(units[0]).zone if units else None
    return _form_page(
        dutyd, viewer, {"learned_at": local_input(dutyd.clock.now(), zone), "level": "IV"}
    )


def report_from_form(values: dict[str, Any], zone: Any) -> IncidentReport:
    return IncidentReport.model_validate(
        {
            "category": values.get("category"),
            "event_type": values.get("event_type"),
            "level": values.get("level"),
            "unit": values.get("unit"),
            "title": values.get("title", "").strip(),
            "description": values.get("description", ""),
            "location": values.get("location") or None,
            "learned_at": parse_local(values.get("learned_at", ""), zone, "learned_at"),
            "casualties": {f: values.get(f) or 0 for f in FIGURES},
            "losses": values.get("losses", ""),
            "intake": {
                **{f: values.get(f, "") for f in INTAKE},
                "received_via": values.get("received_via") or None,
            },
        }
    )


@router.post("/incidents/new")
async def log_incident(request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    values = await form_values(request)
    roster = dutyd.runtime.roster
    unit_id = values.get("unit", "")
    zone = roster.units[unit_id].zone if unit_id in roster.units else None
    try:
        report = report_from_form(values, zone)
    except (ValidationError, DutydError) as exc:
        return _form_page(dutyd, viewer, values, errors=field_errors(exc), status=422)
    now = dutyd.clock.now()
    if values.get("confirm_new") != "yes":
        async with dutyd.reads() as session:
            duplicates = list(
                await session.scalars(
                    select(IncidentRow).where(
                        IncidentRow.unit_id == report.unit,
                        IncidentRow.event_type == report.event_type,
                        IncidentRow.status.in_([s.value for s in OPEN_STATUSES]),
                    )
                )
            )
        if duplicates:
            return _form_page(dutyd, viewer, values, duplicates=duplicates, status=409)
    try:
        async with dutyd.sessions.begin() as session:
            incident, _ = await incidents.report_incident(
                session,
                report,
                roster=roster,
                plans=dutyd.runtime.plans,
                reporter=viewer.person_id,
                now=now,
                worker=dutyd.worker,
                learned_within=timedelta(hours=dutyd.settings.learned_at_max_age_hours),
            )
            incident_id = incident.id
    except DutydError as exc:
        return _form_page(dutyd, viewer, values, errors=field_errors(exc), status=422)
    dutyd.wake()
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


async def render_incident_page(
    dutyd: DutydDep, viewer: Viewer, incident_id: int, *, error: str = "", status: int = 200
) -> HTMLResponse:
    async with dutyd.reads() as session:
        try:
            detail = await get_incident_detail(session, incident_id=incident_id)
            instructions = await instructions_of_incident(session, incident_id)
        except NotFound:
            return page(
                "error.html.j2",
                viewer.language,
                status_code=404,
                viewer=viewer,
                message=f"incident {incident_id} not found",
            )
    roster = dutyd.runtime.roster
    unit = roster.unit(detail.unit)
    people = {p.id: p.name for p in roster.people.values()}
    scene = Scene(
        people=people, units={u.id: u.name for u in roster.units.values()}, zone=unit.zone
    )
    chosen = next((e for e in detail.timeline if e.kind in ("plan_selected", "replanned")), None)
    return page(
        "incident.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        detail=detail,
        zone=unit.zone,
        unit=unit,
        now=dutyd.clock.now(),
        plan_reason=sentence(chosen, viewer.language, scene) if chosen else "",
        say=lambda entry: sentence(entry, viewer.language, scene),
        people=people,
        may_work=viewer.may(Action.work_incident, detail.unit, roster),
        may_replan=viewer.may(Action.replan, detail.unit, roster),
        may_warn=viewer.may(Action.draft_warning, detail.unit, roster),
        may_instruct=viewer.may(Action.give_instruction, detail.unit, roster),
        instructions=instructions,
        instruction_rows=range(INSTRUCTION_ROWS),
        assignment_units=[roster.unit(u) for u in sorted(roster.units)],
        deadline_default=local_input(dutyd.clock.now() + timedelta(hours=2), unit.zone),
        categories=[(c, EVENT_TYPES[c]) for c in Category],
        statuses=[s for s in TRANSITIONS[detail.status]],
        levels=[lv for lv in Level if lv != detail.level],
        report_kinds=[k for k in ReportKind],
        figures=FIGURES,
        error=error,
    )


@router.get("/incidents/{incident_id:int}")
async def incident_page(incident_id: int, dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    return await render_incident_page(dutyd, viewer, incident_id)


async def _unit_of(dutyd: DutydDep, incident_id: int) -> str:
    async with dutyd.reads() as session:
        unit = await session.scalar(
            select(IncidentRow.unit_id).where(IncidentRow.id == incident_id)
        )
    if unit is None:
        raise NotFound("incident", incident_id)
    return unit


@router.post("/incidents/{incident_id:int}/warning")
async def warning_from_incident(incident_id: int, dutyd: DutydDep, viewer: FormViewer) -> Response:
    """A warning draft prefilled from the incident and linked to it, to edit and submit."""
    desk = WarningDesk(
        dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now(), dutyd.cap_signing
    )

    async def draft(session: AsyncSession) -> int:
        row = await draft_from_incident(session, desk, incident_id, actor=viewer.principal)
        await session.flush()
        return row.id

    try:
        warning_id = await run_step(dutyd.sessions, dutyd.warning_gate.lock, draft)
    except DutydError as exc:
        return page(
            "error.html.j2", viewer.language, status_code=422, viewer=viewer, message=str(exc)
        )
    return RedirectResponse(f"/console/warnings/{warning_id}/edit", status_code=303)


@router.post("/incidents/{incident_id:int}/{action}")
async def incident_action(
    incident_id: int, action: str, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    """One action on the incident; an error comes back on the incident page, by the form."""
    values = await form_values(request)
    runtime, now, actor = dutyd.runtime, dutyd.clock.now(), viewer.person_id
    try:
        await _unit_of(dutyd, incident_id)
    except NotFound as exc:
        return page(
            "error.html.j2", viewer.language, status_code=404, viewer=viewer, message=str(exc)
        )
    common: dict[str, Any] = {"roster": runtime.roster, "plans": runtime.plans, "now": now}
    try:
        async with dutyd.sessions.begin() as session:
            if action == "ack":
                await incidents.acknowledge(session, incident_id=incident_id, actor=actor, **common)
            elif action == "escalate":
                await incidents.escalate_now(session, incident_id=incident_id, actor=actor, now=now)
            elif action == "level":
                await incidents.change_level(
                    session,
                    incident_id,
                    level=Level(values.get("level", "")),
                    reason=_required(values, "reason"),
                    actor=actor,
                    worker=dutyd.worker,
                    **common,
                )
            elif action == "status":
                await incidents.set_status(
                    session,
                    incident_id=incident_id,
                    status=IncidentStatus(values.get("status", "")),
                    note=values.get("note", ""),
                    actor=actor,
                    **common,
                )
            elif action == "report":
                await incidents.submit_report(
                    session,
                    incident_id=incident_id,
                    kind=ReportKind(values.get("kind", "")),
                    content=_required(values, "content"),
                    hop=values.get("hop") or None,
                    actor=actor,
                    **common,
                )
            elif action == "category":
                category, _, event_type = str(values.get("event_type", "")).partition("/")
                await incidents.change_category(
                    session,
                    incident_id,
                    category=Category(category),
                    event_type=event_type,
                    reason=_required(values, "reason"),
                    actor=actor,
                    worker=dutyd.worker,
                    **common,
                )
            elif action == "replan":
                await incidents.replan(
                    session, incident_id=incident_id, actor=actor, worker=dutyd.worker, **common
                )
            elif action == "casualties":
                update = CasualtyUpdate.model_validate(
                    {
                        "casualties": {f: values.get(f) or 0 for f in FIGURES},
                        "losses": values.get("losses"),
                        "note": values.get("note", ""),
                    }
                )
                await casualties.update_casualties(
                    session, incident_id, update, actor=actor, worker=dutyd.worker, **common
                )
            else:
                raise NotFound("action", action)
    except Forbidden as exc:
        raise ConsoleForbidden(str(exc)) from None
    except (DutydError, ValidationError, ValueError) as exc:
        message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return await render_incident_page(dutyd, viewer, incident_id, error=message, status=422)
    dutyd.wake()
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


def _required(values: dict[str, Any], name: str) -> str:
    text = str(values.get(name, "")).strip()
    if not text:
        raise ValueError(f"{name}: required")
    return text
