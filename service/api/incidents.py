"""Incident endpoints."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import Caller, DutydDep, SessionDep
from service.auth.tokens import Role, require_role
from service.incidents import service
from service.incidents.models import IncidentDetail, IncidentReport, IncidentStatus, IncidentView
from service.metrics import INCIDENTS_REPORTED

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IncidentDetail)
async def report_incident(
    report: IncidentReport, caller: Caller, dutyd: DutydDep
) -> IncidentDetail:
    """Log an incident; its plan's first notifications go out at once."""
    require_role(caller, Role.duty_officer, Role.leader, Role.admin)
    async with dutyd.sessions.begin() as session:
        incident = await service.report_incident(
            session,
            dutyd.runtime,
            report,
            reporter=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
    INCIDENTS_REPORTED.labels(level=report.level.value).inc()
    dutyd.wake()
    async with dutyd.sessions() as session:
        return await service.get_incident_detail(session, incident_id=incident.id)


@router.get("", response_model=list[IncidentView])
async def list_incidents(
    caller: Caller, session: SessionDep, status: IncidentStatus | None = None, limit: int = 100
) -> list[IncidentView]:
    return await service.list_incidents(session, status=status, limit=min(limit, 1000))


@router.get("/{incident_id}", response_model=IncidentDetail)
async def show_incident(incident_id: int, caller: Caller, session: SessionDep) -> IncidentDetail:
    """The incident with its timeline and every message with its delivery state."""
    return await service.get_incident_detail(session, incident_id=incident_id)


@router.post("/{incident_id}/replan", response_model=IncidentView)
async def replan(incident_id: int, caller: Caller, dutyd: DutydDep) -> IncidentView:
    """Move the incident to the plan in force now (after plans were edited and reloaded)."""
    require_role(caller, Role.leader, Role.admin)
    async with dutyd.sessions.begin() as session:
        row = await service.replan(
            session,
            dutyd.runtime,
            incident_id=incident_id,
            actor=caller.name,
            now=dutyd.clock.now(),
        )
        view = service.incident_view(row)
    dutyd.wake()
    return view


@router.post("/{incident_id}/ack", response_model=IncidentView)
async def acknowledge(incident_id: int, caller: Caller, dutyd: DutydDep) -> IncidentView:
    """Acknowledge: stops the incident's escalation."""
    async with dutyd.sessions.begin() as session:
        row = await service.acknowledge(
            session, incident_id=incident_id, actor=caller.name, now=dutyd.clock.now()
        )
        return service.incident_view(row)
