"""The duty office's figures per unit and period, and the late-report accountability
list (迟报、漏报 with the people responsible and their explanations)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import Caller, DutydDep, ReadSessionDep, RowId
from service.bulletin.export import bulletin_csv, bulletin_pdf, bulletin_xlsx
from service.bulletin.models import MonthlyBulletin
from service.flows.bulletin import monthly_bulletin
from service.flows.statistics import late_reports, office_figures
from service.reports.service import explain_lateness
from service.texts.fonts import find_font

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


BULLETIN_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@router.get("/statistics/monthly", response_model=MonthlyBulletin)
async def monthly(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM.")],
    unit: Annotated[list[str] | None, Query(description="Units (repeat); default: all.")] = None,
    format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query()] = "json",
    language: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Any:
    """The monthly duty report (月度值班通报): the month's figures per unit, the late and
    missing reports with the people responsible, the on-time rate over six months, the
    spread of acknowledgement times and of incidents over the day; as JSON, CSV, XLSX or
    PDF (with charts)."""
    roster = dutyd.runtime.roster
    bulletin = await monthly_bulletin(
        session,
        roster,
        month=month,
        units=unit or list(roster.units),
        zone=ZoneInfo(dutyd.settings.timezone),
        language=language,
        now=dutyd.clock.now(),
    )
    if format == "json":
        return bulletin
    if format == "csv":
        body: bytes | str = bulletin_csv(bulletin, language)
    elif format == "xlsx":
        body = bulletin_xlsx(bulletin, language)
    else:
        body = bulletin_pdf(bulletin, language, find_font(dutyd.settings.report_font))
    return Response(
        body,
        media_type=BULLETIN_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="duty-{month}.{format}"'},
    )
