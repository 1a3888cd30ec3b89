"""`dutyd roster`: who is on, checks, imports and exports, versions; overrides and feeds
are in their own modules and join this group at the bottom."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.cli import feeds, overrides
from service.cli.options import AtOption, instant, who
from service.cli.render import echo_lines, holder_line, version_line, violation_line
from service.cli.runner import fail, run, run_in_transaction
from service.office.roster_edits import version_to_restore
from service.roster import store as roster_store
from service.roster.check import check_roster_period
from service.roster.csvio import export_duty_table, parse_duty_table
from service.roster.edits import with_duty_table
from service.roster.report import on_duty
from service.yamlfile import read_yaml

app = typer.Typer(
    help="Duty rosters: who is on, checks, imports, overrides, feeds.", no_args_is_help=True
)


def roster_now(
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    at: AtOption = None,
) -> None:
    """Say who holds each role at that time, overrides applied."""
    moment = instant(at)

    async def work(dutyd: Dutyd) -> list[str]:
        return [holder_line(h) for h in on_duty(dutyd.runtime.roster, moment, unit)]

    echo_lines(run(work))


def roster_check(
    start: Annotated[datetime, typer.Option("--from", help="Start (ISO 8601 date or time).")],
    end: Annotated[datetime, typer.Option("--to", help="End, exclusive.")],
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """List every gap and rule violation in the period; exit 1 if there is any."""

    async def work(dutyd: Dutyd) -> list[str]:
        in_force = dutyd.runtime
        if unit is not None:
            in_force.roster.unit(unit)  # an unknown unit is an error, not a clean roster
        # A date without an offset means that day on each unit's own clocks.
        found = check_roster_period(
            in_force.roster,
            in_force.rules,
            in_force.calendar,
            start,
            end,
            [unit] if unit else None,
        )
        units = in_force.roster.units
        return [violation_line(v, units[v.unit].zone) for v in found]

    lines = run(work)
    echo_lines(lines)
    if lines:
        raise fail(f"{len(lines)} gap(s) or violation(s) found", code=1)
    typer.echo("no gaps or violations")


def roster_export(
    csv_table: Annotated[bool, typer.Option("--csv", help="Only the duty table, as CSV.")] = False,
) -> None:
    """Print the roster in force as YAML (or its duty table as CSV)."""

    async def work(dutyd: Dutyd) -> str:
        document = dutyd.runtime.roster.document
        return (
            export_duty_table(document.duty_table) if csv_table else roster_store.to_yaml(document)
        )

    typer.echo(run(work), nl=False)


def roster_import(
    path: Annotated[Path, typer.Argument(help="A roster YAML file, or a duty table .csv file.")],
    by: Annotated[str | None, typer.Option(help="Who imports (default: login name).")] = None,
) -> None:
    """Load a roster YAML (replacing the roster) or a duty table CSV (merged in): a new version."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        roster = dutyd.runtime.roster
        if path.suffix.lower() == ".csv":
            lines = parse_duty_table(path.read_text(encoding="utf-8-sig"), roster, str(path))
            data = with_duty_table(roster, lines)
            comment = f"imported {len(lines)} duty table lines from {path}"
        else:
            data, comment = read_yaml(path), f"imported from {path}"
        version = await dutyd.store_roster(
            session, data, actor=who(by), comment=comment, source=str(path)
        )
        return f"roster version {version}: {comment}"

    typer.echo(run_in_transaction(work))


def roster_versions(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
) -> None:
    """List the stored versions of the roster: when, by whom, why; * marks the one in force."""

    async def work(dutyd: Dutyd) -> list[str]:
        zone = ZoneInfo(dutyd.settings.timezone)
        async with dutyd.reads() as session:
            rows = await roster_store.list_versions(session, limit)
        in_force = dutyd.runtime.roster_version
        return [version_line(row, in_force, zone) for row in rows]

    echo_lines(run(work))


def roster_restore(
    version: Annotated[int, typer.Argument(help="The version to put back in force.")],
    actor: Annotated[str | None, typer.Option(help="Who restores (default: login).")] = None,
) -> None:
    """Put an earlier roster version back in force, as a new version (later ones stay listed)."""
    restorer = who(actor)

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        data = await version_to_restore(session, dutyd.runtime, version)
        new = await dutyd.store_roster(
            session,
            data,
            actor=restorer,
            comment=f"restored version {version}",
            source=f"roster version {version}",
        )
        return f"roster version {version} restored by {restorer} as version {new}"

    typer.echo(run_in_transaction(work))


# Registered here, in one place, so that `dutyd roster --help` lists them in this order
# whichever module a command lives in.
for name, command in (
    ("now", roster_now),
    ("check", roster_check),
    ("export", roster_export),
    ("import", roster_import),
    ("override", overrides.roster_override),
    ("approve", overrides.roster_approve),
    ("versions", roster_versions),
    ("restore", roster_restore),
    ("feed", feeds.roster_feed),
    ("feed-revoke", feeds.roster_feed_revoke),
):
    app.command(name)(command)
