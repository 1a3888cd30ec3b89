"""Plan endpoints: what is in force, reload, and the effective plan for a level."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.api.deps import Caller, DutydDep
from service.catalog import Level
from service.errors import NotFound

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])


class PlanSummary(BaseModel):
    id: str
    kind: str
    title: str
    source_file: str
    version: str
    extends: list[str]


class ReloadView(BaseModel):
    at: datetime
    applied: bool
    plans_version: str
    problems: list[str]


class PlansStatus(BaseModel):
    plans_version: str
    plans: int
    last_reload: ReloadView | None


@router.get("", response_model=list[PlanSummary])
async def list_plans(caller: Caller, dutyd: DutydDep) -> list[PlanSummary]:
    return [
        PlanSummary(
            id=p.plan.id,
            kind=p.plan.kind.value,
            title=p.plan.title,
            source_file=p.source_file,
            version=p.digest,
            extends=p.plan.chain[:-1],
        )
        for p in dutyd.runtime.plans.plans
    ]


@router.get("/status", response_model=PlansStatus)
async def plans_status(caller: Caller, dutyd: DutydDep) -> PlansStatus:
    """The plan set in force and the outcome of the last reload."""
    last = dutyd.last_reload
    return PlansStatus(
        plans_version=dutyd.runtime.plans.digest,
        plans=len(dutyd.runtime.plans.plans),
        last_reload=ReloadView(**vars(last)) if last else None,
    )


@router.post("/reload", response_model=ReloadView, responses={422: {"model": ReloadView}})
async def reload_plans(caller: Caller, dutyd: DutydDep) -> Any:
    """Reload plans and duty rules from disk; an invalid set is refused whole (422)."""
    outcome = ReloadView(**vars(dutyd.reload_plans()))
    if not outcome.applied:
        return JSONResponse(status_code=422, content=outcome.model_dump(mode="json"))
    return outcome


@router.get("/{plan_id}")
async def show_plan(
    plan_id: str, caller: Caller, dutyd: DutydDep, level: Level | None = None
) -> Any:
    """The effective plan after inheritance, with the file each rule came from."""
    loaded = dutyd.runtime.plans.get(plan_id)
    if loaded is None:
        raise NotFound("plan", plan_id)
    data = loaded.plan.model_dump(mode="json")
    if level is not None:
        data["levels"] = {level.value: data["levels"].get(level.value)}
        data["origins"] = {level.value: data["origins"].get(level.value)}
    return {"version": loaded.digest, **data}
