"""Report duties across incidents: what is open, what is overdue, and how units do."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel

from service.api.deps import Caller, DutydDep, ReadSessionDep
from service.incidents.models import DutyView
from service.reports import stats as reports
from service.reports.names import duty_view

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class OpenDuty(BaseModel):
    incident_id: int
    incident_title: str
    unit: str
    overdue: bool
    duty: DutyView


@router.get("/open", response_model=list[OpenDuty])
async def open_duties(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    unit: str | None = None,
    overdue_only: bool = False,
) -> list[OpenDuty]:
    """Open report duties, oldest deadline first; `overdue_only` for the late ones (迟报)."""
    now = dutyd.clock.now()
    rows = await reports.open_duties(session, now=now, overdue_only=overdue_only, unit=unit)
    return [
        OpenDuty(
            incident_id=i.id,
            incident_title=i.title,
            unit=i.unit_id,
            overdue=d.due_at <= now,
            duty=duty_view(d),
        )
        for i, d in rows
    ]


@router.get("/overdue", response_model=list[OpenDuty])
async def overdue(
    caller: Caller, dutyd: DutydDep, session: ReadSessionDep, unit: str | None = None
) -> list[OpenDuty]:
    return await open_duties(caller, dutyd, session, unit, overdue_only=True)


class UnitStats(BaseModel):
    unit: str
    on_time: int
    late: int
    missing: int
    pending: int


@router.get("/stats", response_model=list[UnitStats])
async def stats(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    unit: str | None = None,
) -> list[UnitStats]:
    """Per unit, for reports due in [start, end) (default: the last 30 days)."""
    now = dutyd.clock.now()
    finish: datetime = end or now
    begin: datetime = start or finish - timedelta(days=30)
    found = await reports.report_stats(session, start=begin, end=finish, now=now, unit=unit)
    return [UnitStats(**vars(s)) for s in found]
