"""Drills in the console: the list and the form to start one, a drill's page with its
report line by line, the report as CSV and PDF, and ending it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from service.auth.policy import Action
from service.catalog import Level
from service.drills import export
from service.drills import service as drills
from service.drills.models import DrillStart
from service.errors import DutydError, Forbidden
from service.flows import drills as flow
from service.texts.fonts import find_font
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
# The roles a drill most often has played by someone else.
CAST = ("duty_officer", "leader_on_shift")


async def _drills_page(
    dutyd: DutydDep,
    viewer: Viewer,
    *,
    values: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = viewer.units(roster)
    async with dutyd.reads() as session:
        rows = [r for r in await drills.list_drills(session) if r.unit_id in units]
        incidents = {r.id: await flow.drill_incident(session, r.id) for r in rows}
    return page(
        "drills.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        drills=rows,
        incidents={k: v.id for k, v in incidents.items() if v is not None},
        units=[roster.unit(u) for u in units],
        names={u: roster.unit(u).name for u in roster.units},
        plans=dutyd.runtime.plans.plans,
        levels=list(Level),
        cast=CAST,
        people=sorted(roster.people.values(), key=lambda p: (p.unit, p.id)),
        may_start=any(viewer.may(Action.run_drill, u, roster) for u in units),
        values=values or {},
        error=error,
    )


@router.get("/drills")
async def drills_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    return await _drills_page(dutyd, viewer)


@router.post("/drills")
async def start_drill(request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    values = await form_values(request)
    try:
        start = DrillStart(
            plan=values.get("plan", ""),
            level=values.get("level", ""),
            unit=values.get("unit", ""),
            scenario=values.get("scenario", ""),
            title=values.get("title") or None,
            stand_ins={r: values[f"cast_{r}"] for r in CAST if values.get(f"cast_{r}")},
            public_warnings=values.get("public_warnings") == "yes",
        )
        async with dutyd.sessions.begin() as session:
            drill, _ = await flow.start_drill(
                session,
                start,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                actor=viewer.person_id,
                now=dutyd.clock.now(),
                worker=dutyd.worker,
            )
    except Forbidden as exc:
        raise ConsoleForbidden(str(exc)) from None
    except (DutydError, ValidationError) as exc:
        message = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return await _drills_page(dutyd, viewer, values=values, error=message, status=422)
    dutyd.wake()
    return RedirectResponse(f"/console/drills/{drill.id}", status_code=303)


@router.get("/drills/{drill_id:int}")
async def drill_page(
    drill_id: int, dutyd: DutydDep, viewer: ViewerDep, error: str = ""
) -> HTMLResponse:
    roster = dutyd.runtime.roster
    async with dutyd.reads() as session:
        row = await drills.get_drill(session, drill_id)
        viewer.authorize(Action.view, row.unit_id, roster)
        report = await flow.drill_report(
            session, drill_id, roster=roster, language=viewer.language, now=dutyd.clock.now()
        )
    return page(
        "drill.html.j2",
        viewer.language,
        viewer=viewer,
        drill=row,
        report=report,
        table=export.rows(report, viewer.language),
        outcomes=[line.outcome for line in report.lines],
        summary=export.summary(report, viewer.language),
        names={p.id: p.name for p in roster.people.values()},
        may_end=row.ended_at is None and viewer.may(Action.run_drill, row.unit_id, roster),
        error=error,
    )


@router.post("/drills/{drill_id:int}/end")
async def end_drill(drill_id: int, dutyd: DutydDep, viewer: FormViewer) -> Response:
    try:
        async with dutyd.sessions.begin() as session:
            await flow.end_drill(
                session,
                drill_id,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                actor=viewer.person_id,
                now=dutyd.clock.now(),
            )
    except DutydError as exc:
        return await drill_page(drill_id, dutyd, viewer, error=str(exc))
    dutyd.wake()
    return RedirectResponse(f"/console/drills/{drill_id}", status_code=303)


async def _report_file(dutyd: DutydDep, viewer: Viewer, drill_id: int, kind: str) -> Response:
    roster = dutyd.runtime.roster
    async with dutyd.reads() as session:
        row = await drills.get_drill(session, drill_id)
        viewer.authorize(Action.view, row.unit_id, roster)
        report = await flow.drill_report(
            session, drill_id, roster=roster, language=viewer.language, now=dutyd.clock.now()
        )
    name = f'attachment; filename="drill-{drill_id}.{kind}"'
    if kind == "csv":
        return Response(
            export.report_csv(report, viewer.language),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": name},
        )
    font = find_font(dutyd.settings.report_font)
    return Response(
        export.report_pdf(report, viewer.language, font),
        media_type="application/pdf",
        headers={"Content-Disposition": name},
    )


@router.get("/drills/{drill_id:int}/report.csv")
async def drill_csv(drill_id: int, dutyd: DutydDep, viewer: ViewerDep) -> Response:
    return await _report_file(dutyd, viewer, drill_id, "csv")


@router.get("/drills/{drill_id:int}/report.pdf")
async def drill_pdf(drill_id: int, dutyd: DutydDep, viewer: ViewerDep) -> Response:
    return await _report_file(dutyd, viewer, drill_id, "pdf")
