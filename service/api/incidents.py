"""Incident endpoints: report, read, acknowledge, move along, change level, report up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.deps import Caller, DutydDep, PageSize, ReadSessionDep, RowId
from service.app import Dutyd
from service.flows import casualties, incident_detail, incidents
from service.incidents import views
from service.incidents.models import (
    CasualtyUpdate,
    CategoryChange,
    DutyView,
    IncidentDetail,
    IncidentReport,
    IncidentStatus,
    IncidentView,
    LevelChange,
    StatusChange,
)
from service.incidents.tables import IncidentRow
from service.metrics import INCIDENTS_REPORTED
from service.reports.duties import ReportKind
from service.reports.names import duty_view

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


async def _change(
    dutyd: Dutyd, action: Callable[[AsyncSession], Awaitable[IncidentRow]]
) -> IncidentView:
    """Run one change of an incident in a transaction, then wake the engine for its effects."""
    async with dutyd.sessions.begin() as session:
        view = views.incident_view(await action(session))
    dutyd.wake()
    return view


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentDetail,
    responses={200: {"model": IncidentDetail, "description": "Deduplicated"}},
)
async def report_incident(
    report: IncidentReport, caller: Caller, dutyd: DutydDep, response: Response
) -> IncidentDetail:
    """Log an incident; its plan's first notifications go out at once.

    A report carrying the `dedup_key` of an open incident updates that incident instead
    (200, `deduplicated: true`).
    """
    async with dutyd.sessions.begin() as session:
        incident, deduplicated = await incidents.report_incident(
            session,
            report,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            reporter=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
            learned_within=timedelta(hours=dutyd.settings.learned_at_max_age_hours),
        )
        # A new incident's answer is built from what was just written, without a read.
        detail = (
            None if deduplicated else await incident_detail.new_incident_detail(session, incident)
        )
    dutyd.wake()
    if detail is None:
        response.status_code = status.HTTP_200_OK
        async with dutyd.reads() as session:
            detail = await incident_detail.get_incident_detail(session, incident_id=incident.id)
        detail.deduplicated = True
    else:
        INCIDENTS_REPORTED.labels(level=report.level.value).inc()
    return detail


@router.get("", response_model=list[IncidentView])
async def list_incidents(
    caller: Caller,
    session: ReadSessionDep,
    status: IncidentStatus | None = None,
    unit: Annotated[str | None, Query(max_length=64, description="Only this unit.")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words to find in what happened or the intake record (reporter's "
            "name, unit, phone; what was done; who was told); every word must match.",
        ),
    ] = None,
    limit: PageSize = 100,
) -> list[IncidentView]:
    """The latest incidents first, by status, unit, or words of their record."""
    return await views.list_incidents(session, status=status, unit=unit, search=q, limit=limit)


@router.get("/{incident_id}", response_model=IncidentDetail)
async def show_incident(
    incident_id: RowId, caller: Caller, session: ReadSessionDep
) -> IncidentDetail:
    """The incident with its timeline, every message with its state, and its report duties."""
    return await incident_detail.get_incident_detail(session, incident_id=incident_id)


@router.post("/{incident_id}/ack", response_model=IncidentView)
async def acknowledge(incident_id: RowId, caller: Caller, dutyd: DutydDep) -> IncidentView:
    """Acknowledge: stops the escalation and tells everyone paged so far."""
    return await _change(
        dutyd,
        lambda session: incidents.acknowledge(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            actor=caller.name,
            now=dutyd.clock.now(),
        ),
    )


@router.post("/{incident_id}/status", response_model=IncidentView)
async def change_status(
    incident_id: RowId, body: StatusChange, caller: Caller, dutyd: DutydDep
) -> IncidentView:
    """reported → acknowledged → responding → resolved → closed (resolved may re-open)."""
    return await _change(
        dutyd,
        lambda session: incidents.set_status(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            status=body.status,
            note=body.note,
            actor=caller.name,
            now=dutyd.clock.now(),
        ),
    )


@router.post("/{incident_id}/level", response_model=IncidentView)
async def change_level(
    incident_id: RowId, body: LevelChange, caller: Caller, dutyd: DutydDep
) -> IncidentView:
    """Raise or lower the level: the plan's targets and deadlines for it take over."""
    return await _change(
        dutyd,
        lambda session: incidents.change_level(
            session,
            incident_id,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            level=body.level,
            reason=body.reason,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        ),
    )


@router.post("/{incident_id}/category", response_model=IncidentView)
async def change_category(
    incident_id: RowId, body: CategoryChange, caller: Caller, dutyd: DutydDep
) -> IncidentView:
    return await _change(
        dutyd,
        lambda session: incidents.change_category(
            session,
            incident_id,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            category=body.category,
            event_type=body.event_type,
            reason=body.reason,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        ),
    )


@router.post("/{incident_id}/casualties", response_model=IncidentView)
async def update_casualties(
    incident_id: RowId, body: CasualtyUpdate, caller: Caller, dutyd: DutydDep
) -> IncidentView:
    """Casualties and losses as now known. Figures that reach a more severe level under
    the plan's thresholds raise it or put it to the officer, as the plan says."""
    return await _change(
        dutyd,
        lambda session: casualties.update_casualties(
            session,
            incident_id,
            body,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        ),
    )


@router.post("/{incident_id}/escalate", response_model=IncidentView)
async def escalate_now(incident_id: RowId, caller: Caller, dutyd: DutydDep) -> IncidentView:
    """Escalate now: the next step fires at once instead of after its wait."""
    return await _change(
        dutyd,
        lambda session: incidents.escalate_now(
            session, incident_id=incident_id, actor=caller.name, now=dutyd.clock.now()
        ),
    )


@router.post("/{incident_id}/replan", response_model=IncidentView)
async def replan(incident_id: RowId, caller: Caller, dutyd: DutydDep) -> IncidentView:
    """Move the incident to the plan in force now (after plans were edited and reloaded)."""
    return await _change(
        dutyd,
        lambda session: incidents.replan(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        ),
    )


class ReportSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ReportKind
    content: str = Field(min_length=1, max_length=100_000)
    hop: str | None = Field(
        None,
        max_length=64,
        description="For kind `hop`: which hop of the reporting chain (default: the one due "
        "first).",
    )


@router.post("/{incident_id}/reports", response_model=DutyView, status_code=201)
async def submit_report(
    incident_id: RowId, body: ReportSubmission, caller: Caller, dutyd: DutydDep
) -> DutyView:
    """Make a report: it closes the oldest open duty of that kind; a late one stays late."""
    async with dutyd.sessions.begin() as session:
        duty = await incidents.submit_report(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            kind=body.kind,
            content=body.content,
            actor=caller.name,
            now=dutyd.clock.now(),
            hop=body.hop,
        )
        await session.flush()
        view = duty_view(duty)
    dutyd.wake()
    return view
