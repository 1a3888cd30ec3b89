"""Health, readiness, metrics, plans and who is on duty."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import DutydDep

router = APIRouter()


@router.get("/healthz", tags=["system"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["system"])
async def ready(dutyd: DutydDep) -> JSONResponse:
    """Ready means this process can commit to the database, and plans are loaded."""
    problem = await dutyd.ready()
    if problem is not None:
        return JSONResponse(status_code=503, content={"status": "unavailable", "reason": problem})
    return JSONResponse(content={"status": "ready", "plans": len(dutyd.runtime.plans.plans)})


@router.get("/metrics", tags=["system"])
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
