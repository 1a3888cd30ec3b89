"""The duty office's figures per unit and period, and the late-report accountability
list (迟报、漏报 with the people responsible and their explanations)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import Caller, DutydDep, ReadSessionDep, RowId
from service.flows.statistics import late_reports, office_figures
from service.reports.service import explain_lateness

router = APIRouter(prefix="/api/v1", tags=["statistics"])
From = Annotated[datetime, Query(alias="from", description="Start (ISO 8601 with offset).")]
To = Annotated[datetime, Query(alias="to", description="End, exclusive.")]
Unit = Annotated[str | None, Query(max_length=64, description="Only this unit.")]


class Explanation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    explanation: str = Field(min_length=1, max_length=4000)


@router.get("/statistics")
async def statistics(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    start: From,
    end: To,
    unit: Unit = None,
) -> list[dict[str, Any]]:
    """Per unit: incidents by category/level, mean time to acknowledge and to resolve
    (from when the office learned of it), reports on time / late / missing, assignments
    closed on time, spot-checks answered and lapsed, warnings published and their reach."""
    figures = await office_figures(session, start=start, end=end, now=dutyd.clock.now(), unit=unit)
    return [asdict(f) for f in figures]


@router.get("/accountability/late-reports")
async def accountability(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    start: From,
    end: To,
    unit: Unit = None,
) -> list[dict[str, Any]]:
    """Each report due in the period that was late (迟报) or never made (漏报): unit, the
    person responsible, deadline, delay, and the explanation recorded."""
    found = await late_reports(session, start=start, end=end, now=dutyd.clock.now(), unit=unit)
    return [asdict(r) for r in found]


@router.post("/reports/{duty_id}/explanation")
async def explain(
    duty_id: RowId, body: Explanation, caller: Caller, dutyd: DutydDep
) -> dict[str, Any]:
    """Record why a report was late or missing (迟报、漏报说明)."""
    async with dutyd.sessions.begin() as session:
        duty = await explain_lateness(session, duty_id, body.explanation)
        return {"duty_id": duty.id, "explanation": duty.late_explanation}
