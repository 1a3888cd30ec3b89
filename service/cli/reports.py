"""`dutyd report`: reports made up the chain, and their deadlines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.cli.options import ByOption, period, who
from service.cli.render import echo_lines, open_duty_line, report_stats_line
from service.cli.runner import run, run_in_transaction
from service.flows import incidents
from service.reports.duties import ReportKind
from service.reports.names import duty_name
from service.reports.stats import open_duties, report_stats

app = typer.Typer(help="Reports up the chain and their deadlines.", no_args_is_help=True)


@app.command("submit")
def report_submit(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    kind: Annotated[
        ReportKind, typer.Option(help="initial, written, followup, final, supplement, hop.")
    ],
    content: Annotated[str, typer.Option(help="The report's text.")],
    hop: Annotated[
        str | None, typer.Option(help="For --kind hop: the hop of the reporting chain.")
    ] = None,
    by: ByOption = None,
) -> None:
    """Record a report made up the chain; it closes the oldest open duty of that kind."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        duty = await incidents.submit_report(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            kind=kind,
            content=content,
            actor=who(by),
            now=dutyd.clock.now(),
            hop=hop,
        )
        late = " (LATE)" if duty.late else ""
        return f"{duty_name(duty, 'en')} for incident {incident_id} recorded{late}"

    typer.echo(run_in_transaction(work))


@app.command("overdue")
def report_overdue(
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    all_open: Annotated[
        bool, typer.Option("--all", help="Every open duty, not only overdue.")
    ] = False,
) -> None:
    """List report duties past their deadline (迟报), or every open one with --all."""

    async def work(dutyd: Dutyd) -> list[str]:
        now = dutyd.clock.now()
        async with dutyd.sessions() as session:
            rows = await open_duties(session, now=now, overdue_only=not all_open, unit=unit)
        units = dutyd.runtime.roster.units
        return [
            open_duty_line(incident, duty, units[incident.unit_id].zone, now)
            for incident, duty in rows
        ]

    lines = run(work)
    echo_lines(lines)
    if not lines:
        typer.echo("no open report duties" if all_open else "no overdue reports")


@app.command("stats")
def report_stats_command(
    start: Annotated[datetime, typer.Option("--from", help="Start (ISO 8601).")],
    end: Annotated[datetime, typer.Option("--to", help="End, exclusive.")],
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """Per unit: reports due in the period made on time, late, missing, still pending."""

    async def work(dutyd: Dutyd) -> list[str]:
        begin, finish = period(start, end, dutyd.settings.timezone)
        async with dutyd.sessions() as session:
            found = await report_stats(
                session, start=begin, end=finish, now=dutyd.clock.now(), unit=unit
            )
        return [report_stats_line(s) for s in found]

    echo_lines(run(work) or ["no reports due in that period"])
