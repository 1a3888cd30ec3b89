"""Drills: run a plan as a drill, end it, and read its report (JSON, CSV, PDF)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from service.api.deps import Caller, DutydDep, ReadSessionDep, RowId
from service.drills import export
from service.drills import service as drills
from service.drills.models import DrillReport, DrillStart
from service.drills.tables import DrillRow
from service.flows import drills as flow
from service.texts.fonts import find_font

router = APIRouter(prefix="/api/v1/drills", tags=["drills"])
Language = Annotated[Literal["zh", "en"], Query(description="The report's language.")]


class DrillView(BaseModel):
    id: int
    plan: str
    level: str
    unit: str
    category: str
    event_type: str
    title: str
    scenario: str
    stand_ins: dict[str, str]
    public_warnings: bool
    started_by: str
    started_at: datetime
    ended_by: str | None
    ended_at: datetime | None
    incident_id: int | None


def view(row: DrillRow, incident_id: int | None) -> DrillView:
    return DrillView(
        id=row.id,
        plan=row.plan_id,
        level=row.level,
        unit=row.unit_id,
        category=row.category,
        event_type=row.event_type,
        title=row.title,
        scenario=row.scenario,
        stand_ins=dict(row.stand_ins or {}),
        public_warnings=row.public_warnings,
        started_by=row.started_by,
        started_at=row.started_at,
        ended_by=row.ended_by,
        ended_at=row.ended_at,
        incident_id=incident_id,
    )


@router.post("", response_model=DrillView, status_code=status.HTTP_201_CREATED)
async def start_drill(start: DrillStart, caller: Caller, dutyd: DutydDep) -> DrillView:
    """Run the plan for real as a drill: its incident, deadlines, escalation and messages,
    every message marked 【演练】 / [DRILL], nothing counted in the real figures."""
    async with dutyd.sessions.begin() as session:
        drill, incident = await flow.start_drill(
            session,
            start,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
        answer = view(drill, incident.id)
    dutyd.wake()
    return answer


@router.get("", response_model=list[DrillView])
async def list_drills(
    caller: Caller,
    session: ReadSessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> list[DrillView]:
    """Drills, the latest first."""
    rows = await drills.list_drills(session, unit=unit)
    return [view(row, await _incident_id(session, row.id)) for row in rows]


async def _incident_id(session: ReadSessionDep, drill_id: int) -> int | None:
    incident = await flow.drill_incident(session, drill_id)
    return incident.id if incident else None


@router.get("/{drill_id}", response_model=DrillView)
async def get_drill(drill_id: RowId, caller: Caller, session: ReadSessionDep) -> DrillView:
    row = await drills.get_drill(session, drill_id)
    return view(row, await _incident_id(session, drill_id))


@router.post("/{drill_id}/end", response_model=DrillView)
async def end_drill(drill_id: RowId, caller: Caller, dutyd: DutydDep) -> DrillView:
    """The drill is over: its incident is resolved, what is still queued withdrawn."""
    async with dutyd.sessions.begin() as session:
        row = await flow.end_drill(
            session,
            drill_id,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=caller.name,
            now=dutyd.clock.now(),
        )
        answer = view(row, await _incident_id(session, drill_id))
    dutyd.wake()
    return answer


async def _report(dutyd: DutydDep, drill_id: int, language: str) -> DrillReport:
    async with dutyd.reads() as session:
        return await flow.drill_report(
            session,
            drill_id,
            roster=dutyd.runtime.roster,
            language=language,
            now=dutyd.clock.now(),
        )


@router.get("/{drill_id}/report", response_model=DrillReport)
async def drill_report(
    drill_id: RowId, caller: Caller, dutyd: DutydDep, language: Language = "zh"
) -> DrillReport:
    """Each step, message, acknowledgement and report duty: planned against actual time,
    what was late, what reached nobody."""
    return await _report(dutyd, drill_id, language)


@router.get("/{drill_id}/report.csv", response_class=Response)
async def drill_report_csv(
    drill_id: RowId, caller: Caller, dutyd: DutydDep, language: Language = "zh"
) -> Response:
    report = await _report(dutyd, drill_id, language)
    return Response(
        export.report_csv(report, language),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}.csv"'},
    )


@router.get("/{drill_id}/report.pdf", response_class=Response)
async def drill_report_pdf(
    drill_id: RowId, caller: Caller, dutyd: DutydDep, language: Language = "zh"
) -> Response:
    report = await _report(dutyd, drill_id, language)
    font = find_font(dutyd.settings.report_font)
    return Response(
        export.report_pdf(report, language, font),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}.pdf"'},
    )
