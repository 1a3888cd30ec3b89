"""Duty spot-checks: recent ones per unit, and the month's figures per unit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from service.api.deps import Caller, PageSize, ReadSessionDep
from service.spotchecks.service import month_figures
from service.spotchecks.tables import SpotCheckRow

router = APIRouter(prefix="/api/v1/spot-checks", tags=["spot-checks"])


class SpotCheckView(BaseModel):
    id: int
    unit: str
    planned_at: datetime
    state: str
    person: str | None
    asked_at: datetime | None
    answered_at: datetime | None
    answered_via: str | None
    leader_told: str | None


class FiguresView(BaseModel):
    unit: str
    checks: int
    answered: int
    lapses: int
    median_answer_seconds: float | None
    lapsed_people: list[str]


@router.get("", response_model=list[SpotCheckView])
async def spot_checks(
    caller: Caller,
    session: ReadSessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    limit: PageSize = 100,
) -> list[SpotCheckView]:
    """Checks asked or planned, the latest first."""
    query = select(SpotCheckRow).order_by(SpotCheckRow.planned_at.desc()).limit(limit)
    if unit is not None:
        query = query.where(SpotCheckRow.unit_id == unit)
    return [
        SpotCheckView(
            id=r.id,
            unit=r.unit_id,
            planned_at=r.planned_at,
            state=r.state,
            person=r.person_id,
            asked_at=r.asked_at,
            answered_at=r.answered_at,
            answered_via=r.answered_via,
            leader_told=r.leader_told,
        )
        for r in await session.scalars(query)
    ]


@router.get("/figures", response_model=list[FiguresView])
async def figures(
    caller: Caller,
    session: ReadSessionDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> list[FiguresView]:
    """Per unit, of checks asked in the period: answered, median answer time, lapses and
    whose."""
    return [
        FiguresView(
            unit=f.unit,
            checks=f.checks,
            answered=f.answered,
            lapses=f.lapses,
            median_answer_seconds=f.median_answer_seconds,
            lapsed_people=f.lapsed_people,
        )
        for f in await month_figures(session, start, end)
    ]
