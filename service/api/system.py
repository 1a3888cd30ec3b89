"""Health, readiness, metrics, plans and who is on duty."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel

from service.api.deps import Caller, DutydDep
from service.roster.report import on_duty

router = APIRouter()


@router.get("/healthz", tags=["system"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["system"])
async def ready(dutyd: DutydDep) -> JSONResponse:
    """The database answers and plans are loaded."""
    try:
        ok = await dutyd.ready()
    except Exception as exc:
        return JSONResponse(status_code=503, content={"status": "unavailable", "reason": repr(exc)})
    if not ok:
        return JSONResponse(status_code=503, content={"status": "starting"})
    return JSONResponse(content={"status": "ready", "plans": len(dutyd.runtime.plans.plans)})


@router.get("/metrics", tags=["system"])
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RoleHolderView(BaseModel):
    unit: str
    role: str
    person_id: str
    name: str


@router.get("/api/v1/roster/now", tags=["roster"], response_model=list[RoleHolderView])
async def roster_now(
    caller: Caller, dutyd: DutydDep, unit: str | None = None, at: AwareDatetime | None = None
) -> list[Any]:
    """Who holds each role in each unit at `at` (default now)."""
    instant: datetime = at or dutyd.clock.now()
    return [
        RoleHolderView(unit=h.unit_id, role=h.role, person_id=h.person.id, name=h.person.name)
        for h in on_duty(dutyd.runtime.roster, instant, unit)
    ]
