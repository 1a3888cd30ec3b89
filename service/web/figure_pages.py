"""The monthly duty report (月度值班通报) in the console: the month's figures per unit,
the charts, the late and missing reports, and the report to download."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from service.bulletin.export import (
    bulletin_csv,
    bulletin_pdf,
    bulletin_xlsx,
    late_rows,
    title,
    unit_rows,
)
from service.bulletin.models import MonthlyBulletin
from service.bulletin.words import word
from service.errors import InvalidInput
from service.flows.bulletin import monthly_bulletin
from service.texts.fonts import find_font
from service.web.access import console_access
from service.web.context import DutydDep, Viewer, ViewerDep
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
Units = Annotated[list[str] | None, Query(description="Units (repeat); default: all.")]
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


async def _bulletin(
    dutyd: DutydDep, viewer: Viewer, month: str | None, units: list[str] | None
) -> MonthlyBulletin:
    roster = dutyd.runtime.roster
    zone = ZoneInfo(dutyd.settings.timezone)
    visible = viewer.units(roster)
    chosen = [u for u in (units or visible) if u in visible] or visible
    async with dutyd.reads() as session:
        return await monthly_bulletin(
            session,
            roster,
            month=month or f"{dutyd.clock.now().astimezone(zone):%Y-%m}",
            units=chosen,
            zone=zone,
            language=viewer.language,
            now=dutyd.clock.now(),
        )


@router.get("/figures")
async def figures_page(
    dutyd: DutydDep,
    viewer: ViewerDep,
    month: str | None = None,
    unit: Units = None,
) -> HTMLResponse:
    language = viewer.language
    try:
        bulletin = await _bulletin(dutyd, viewer, month, unit)
    except InvalidInput as exc:
        bulletin, error = await _bulletin(dutyd, viewer, None, unit), str(exc)
    else:
        error = ""
    from service.bulletin.charts import CHARTS  # matplotlib, when a page is drawn

    font = find_font(dutyd.settings.report_font)
    charts = {
        name: "data:image/png;base64,"
        + base64.b64encode(draw(bulletin, language, font, "png")).decode()
        for name, draw in CHARTS.items()
    }
    roster = dutyd.runtime.roster
    chosen = {u.unit for u in bulletin.units}
    query = "&".join([f"month={bulletin.month}", *(f"unit={u}" for u in sorted(chosen))])
    return page(
        "figures.html.j2",
        viewer.language,
        viewer=viewer,
        heading=title(bulletin, language),
        bulletin=bulletin,
        units=[roster.unit(u) for u in viewer.units(roster)],
        chosen=chosen,
        unit_table=unit_rows(bulletin, language),
        late_table=late_rows(bulletin, language),
        charts=charts,
        chart_titles={
            "on_time": word("chart_on_time", language),
            "ack": word("chart_ack", language),
            "hours": word("chart_hours", language),
        },
        query=query,
        error=error,
    )


@router.get("/figures/monthly.{kind}")
async def figures_file(
    kind: str,
    dutyd: DutydDep,
    viewer: ViewerDep,
    month: str | None = None,
    unit: Units = None,
) -> Response:
    if kind not in TYPES:
        raise InvalidInput(f"no report as {kind!r}: pdf, csv or xlsx", field="kind")
    bulletin = await _bulletin(dutyd, viewer, month, unit)
    language = viewer.language
    if kind == "csv":
        body: bytes | str = bulletin_csv(bulletin, language)
    elif kind == "xlsx":
        body = bulletin_xlsx(bulletin, language)
    else:
        body = bulletin_pdf(bulletin, language, find_font(dutyd.settings.report_font))
    stamp = f"{datetime.now():%Y%m%d}"
    return Response(
        body,
        media_type=TYPES[kind],
        headers={
            "Content-Disposition": f'attachment; filename="duty-{bulletin.month}-{stamp}.{kind}"'
        },
    )
