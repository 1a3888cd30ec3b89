"""`dutyd drill`: run a plan as a drill, end it, list drills, write its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.catalog import Level
from service.cli.options import ByOption, who
from service.cli.runner import fail, run, run_in_transaction
from service.drills import export
from service.drills import service as drills
from service.drills.models import DrillReport, DrillStart
from service.flows import drills as flow
from service.texts.fonts import find_font

app = typer.Typer(
    help="Drills (演练): run a plan for real, marked as a drill.", no_args_is_help=True
)

DrillArgument = Annotated[int, typer.Argument(help="Drill number.")]


def _stand_ins(given: list[str]) -> dict[str, str]:
    cast: dict[str, str] = {}
    for item in given:
        role, sep, person = item.partition("=")
        if not sep or not role or not person:
            raise fail(f"--stand-in {item!r}: write ROLE=PERSON, e.g. duty_officer=zheng_hao")
        cast[role.strip()] = person.strip()
    return cast


@app.command("start")
def drill_start(
    plan: Annotated[str, typer.Argument(help="The id of the plan to drill.")],
    level: Annotated[Level, typer.Option(help="The response level drilled: I to IV.")],
    unit: Annotated[str, typer.Option(help="The unit the drill is held in.")],
    event_type: Annotated[
        str | None, typer.Option("--type", help="Event type (default: the plan's first).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Default: the plan's title + 演练.")] = None,
    scenario: Annotated[str, typer.Option(help="What the drill pretends happened.")] = "",
    stand_in: Annotated[
        list[str] | None,
        typer.Option(help="ROLE=PERSON: who plays a role (repeat); others as rostered."),
    ] = None,
    public_warnings: Annotated[
        bool, typer.Option(help="Let the drill's warnings reach the public lists.")
    ] = False,
    by: ByOption = None,
) -> None:
    """Start a drill: the plan's incident, deadlines, escalation and messages run for
    real, every message marked 【演练】, nothing counted in the real figures."""
    try:
        start = DrillStart(
            plan=plan,
            level=level,
            unit=unit,
            event_type=event_type,
            title=title,
            scenario=scenario,
            stand_ins=_stand_ins(stand_in or []),
            public_warnings=public_warnings,
        )
    except ValidationError as exc:
        problems = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail("; ".join(problems)) from None

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        drill, incident = await flow.start_drill(
            session,
            start,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=who(by),
            now=dutyd.clock.now(),
            worker="cli",
        )
        return f"drill {drill.id} started: incident {incident.id}, {drill.title}"

    typer.echo(run_in_transaction(work))


@app.command("end")
def drill_end(drill_id: DrillArgument, by: ByOption = None) -> None:
    """End a drill: its incident is resolved, what is still queued withdrawn."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> None:
        await flow.end_drill(
            session,
            drill_id,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=who(by),
            now=dutyd.clock.now(),
        )

    run_in_transaction(work)
    typer.echo(f"drill {drill_id} ended")


@app.command("list")
def drill_list(
    unit: Annotated[str | None, typer.Option(help="Only this unit's drills.")] = None,
) -> None:
    """Drills, the latest first."""

    async def work(dutyd: Dutyd) -> list[str]:
        async with dutyd.reads() as session:
            rows = await drills.list_drills(session, unit=unit)
        return [
            f"{r.id}\t{r.started_at.isoformat()}\t{r.unit_id}\t{r.plan_id}\t{r.level}\t"
            f"{'ended' if r.ended_at else 'running'}\t{r.title}"
            for r in rows
        ]

    for line in run(work):
        typer.echo(line)


@app.command("report")
def drill_report(
    drill_id: DrillArgument,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the CSV here.")] = None,
    pdf_file: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF here.")] = None,
    language: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """The drill's report: each step, acknowledgement, message and report duty, planned
    against actual; printed, and written as CSV and PDF if asked."""
    if language not in ("zh", "en"):
        raise fail(f"--language {language!r}: zh or en")

    async def work(dutyd: Dutyd) -> tuple[DrillReport, Path | None]:
        async with dutyd.reads() as session:
            report = await flow.drill_report(
                session,
                drill_id,
                roster=dutyd.runtime.roster,
                language=language,
                now=dutyd.clock.now(),
            )
        font = find_font(dutyd.settings.report_font) if pdf_file else None
        return report, font

    report, font = run(work)
    if csv_file is not None:
        csv_file.write_text(export.report_csv(report, language), encoding="utf-8")
    if pdf_file is not None and font is not None:
        pdf_file.write_bytes(export.report_pdf(report, language, font))
    for row in export.rows(report, language):
        typer.echo("\t".join(row))
    typer.echo(export.summary(report, language))
