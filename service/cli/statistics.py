"""`dutyd statistics monthly`: the monthly duty report (月度值班通报) as PDF, CSV, XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from service.app import Dutyd
from service.bulletin.export import bulletin_csv, bulletin_pdf, bulletin_xlsx, unit_rows
from service.bulletin.models import MonthlyBulletin
from service.cli.runner import fail, run
from service.flows.bulletin import monthly_bulletin
from service.texts.fonts import find_font

app = typer.Typer(help="The figures a duty office is judged by.", no_args_is_help=True)


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    unit: Annotated[
        list[str] | None, typer.Option(help="A unit to include (repeat); default: all.")
    ] = None,
    pdf_file: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF here.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the CSV here.")] = None,
    xlsx_file: Annotated[Path | None, typer.Option("--xlsx", help="Write the XLSX here.")] = None,
    language: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """The month's figures per unit, printed; written as PDF (with charts), CSV, XLSX."""
    if language not in ("zh", "en"):
        raise fail(f"--language {language!r}: zh or en")

    async def work(dutyd: Dutyd) -> tuple[MonthlyBulletin, Path | None]:
        roster = dutyd.runtime.roster
        async with dutyd.reads() as session:
            bulletin = await monthly_bulletin(
                session,
                roster,
                month=month,
                units=unit or list(roster.units),
                zone=ZoneInfo(dutyd.settings.timezone),
                language=language,
                now=dutyd.clock.now(),
            )
        return bulletin, find_font(dutyd.settings.report_font) if pdf_file else None

    bulletin, font = run(work)
    if pdf_file is not None and font is not None:
        pdf_file.write_bytes(bulletin_pdf(bulletin, language, font))
    if csv_file is not None:
        csv_file.write_text(bulletin_csv(bulletin, language), encoding="utf-8")
    if xlsx_file is not None:
        xlsx_file.write_bytes(bulletin_xlsx(bulletin, language))
    for row in unit_rows(bulletin, language):
        typer.echo("\t".join(row))
