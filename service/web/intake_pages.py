"""Machines and the duty mailbox in the console: every source with its last check-in (a
silent heartbeat marked), and the mail waiting for an officer to confirm as an incident
(the record corrected first) or dismiss with the reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from service.catalog import CATEGORY_NAMES, EVENT_TYPES, Category, Level
from service.errors import DutydError, Forbidden
from service.flows.intake import confirm_mail, dismiss_mail
from service.intake.checkins import source_states
from service.intake.reports import mail_drafts
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values
from service.web.incident_pages import report_from_form
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)


async def _intake_page(
    dutyd: DutydDep, viewer: Viewer, *, error: str = "", status: int = 200
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    now = dutyd.clock.now()
    async with dutyd.reads() as session:
        sources = await source_states(session, dutyd.intake_rules, now)
        drafts = await mail_drafts(session, 100)
    units = viewer.units(roster)
    return page(
        "intake.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        sources=sources,
        drafts=drafts,
        zone=roster.unit(units[0]).zone if units else None,
        units=[roster.unit(u) for u in units],
        categories=[(c, CATEGORY_NAMES[c], EVENT_TYPES[c]) for c in Category],
        levels=list(Level),
        error=error,
    )


@router.get("/intake")
async def intake_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    return await _intake_page(dutyd, viewer)


async def _refused(dutyd: DutydDep, viewer: Viewer, exc: Exception) -> Response:
    if isinstance(exc, Forbidden):
        raise ConsoleForbidden(str(exc)) from None
    message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
    return await _intake_page(dutyd, viewer, error=message, status=422)


@router.post("/intake/drafts/{report_id:int}/confirm")
async def confirm(
    report_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    values: dict[str, Any] = await form_values(request)
    roster = dutyd.runtime.roster
    unit = roster.units.get(values.get("unit", ""))
    try:
        report = report_from_form(values, unit.zone if unit else None)
        async with dutyd.sessions.begin() as session:
            incident_id = await confirm_mail(
                session,
                report_id,
                report,
                roster=roster,
                plans=dutyd.runtime.plans,
                actor=viewer.person_id,
                now=dutyd.clock.now(),
                worker=dutyd.worker,
            )
    except (DutydError, ValidationError, ValueError) as exc:
        return await _refused(dutyd, viewer, exc)
    dutyd.wake()
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


@router.post("/intake/drafts/{report_id:int}/dismiss")
async def dismiss(
    report_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    values = await form_values(request)
    reason = values.get("reason", "").strip()
    try:
        if not reason:
            raise ValueError("reason: say why the mail is not an incident")
        async with dutyd.sessions.begin() as session:
            await dismiss_mail(
                session, report_id, actor=viewer.person_id, reason=reason, now=dutyd.clock.now()
            )
    except (DutydError, ValueError) as exc:
        return await _refused(dutyd, viewer, exc)
    return RedirectResponse("/console/intake", status_code=303)
