"""The `dutyd` command.

Commands other than `serve` work on the database directly (the same one the daemon
uses), so they work whether or not the daemon runs; the daemon picks up what they
queue within its poll interval.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth import tokens
from service.catalog import Category, Level
from service.config import Settings, load_settings
from service.durations import format_duration
from service.errors import DutydError
from service.incidents import service as incidents
from service.incidents.models import IncidentDetail, IncidentReport, IncidentStatus, IncidentView
from service.logs import configure_logging
from service.plans.loader import load_plans
from service.plans.models import Source
from service.reports.duties import ReportKind
from service.roster.report import on_duty
from service.roster.roster import Roster

T = TypeVar("T")

app = typer.Typer(
    help="dutyd: emergency duty and incident alerting.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
incident_app = typer.Typer(help="Report, acknowledge and inspect incidents.", no_args_is_help=True)
plans_app = typer.Typer(help="Check and list emergency plans.", no_args_is_help=True)
roster_app = typer.Typer(
    help="Duty rosters: who is on, checks, imports, overrides, feeds.", no_args_is_help=True
)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
handover_app = typer.Typer(help="Shift handovers (交接班).", no_args_is_help=True)
report_app = typer.Typer(help="Reports up the chain and their deadlines.", no_args_is_help=True)
for sub, name in (
    (incident_app, "incident"),
    (plans_app, "plans"),
    (roster_app, "roster"),
    (token_app, "token"),
    (db_app, "db"),
    (config_app, "config"),
    (handover_app, "handover"),
    (report_app, "report"),
):
    app.add_typer(sub, name=name)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except DutydError as exc:
        raise fail(str(exc)) from None


def with_store(work: Callable[[Dutyd], Awaitable[T]]) -> T:
    """Run `work` against the database and loaded roster/plans; print domain errors plainly."""
    current = settings()
    configure_logging("WARNING", current.log_format)

    async def run() -> T:
        dutyd = Dutyd(current)
        try:
            await dutyd.open_store()
            return await work(dutyd)
        finally:
            await dutyd.stop()

    try:
        return asyncio.run(run())
    except DutydError as exc:
        raise fail(str(exc)) from None


def roster_in_force() -> Roster:
    """The roster stored in the database (seeded from the YAML file on a new database)."""
    current = settings()
    configure_logging("WARNING", current.log_format)

    async def run() -> Roster:
        dutyd = Dutyd(current)
        try:
            roster, _ = await dutyd.open_database()
            return roster
        finally:
            await dutyd.stop()

    try:
        return asyncio.run(run())
    except DutydError as exc:
        raise fail(str(exc)) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from settings).")] = None,
) -> None:
    """Run the daemon: API, engine and scheduler."""
    import uvicorn

    from service.api.app import create_api

    current = settings()
    configure_logging(current.log_level, current.log_format)
    try:
        listen = {
            "host": host or current.http_host,
            "port": port or current.http_port,
            "log_level": current.log_level.lower(),
            "access_log": False,
        }
        if current.http_workers > 1:
            if not current.effective_database_url.startswith("postgresql"):
                typer.echo(
                    "warning: several http_workers on SQLite queue for its one writer", err=True
                )
            uvicorn.run(
                "service.api.app:create_api_from_settings",
                factory=True,
                workers=current.http_workers,
                **listen,
            )
        else:
            uvicorn.run(create_api(Dutyd(current)), **listen)
    except DutydError as exc:
        raise fail(str(exc)) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""

    async def work(_: Dutyd) -> None:
        typer.echo("database is at the newest schema")

    with_store(work)


@config_app.command("show")
def config_show() -> None:
    """Print the settings in force; secrets show only as (set)."""
    typer.echo(json.dumps(settings().public_view(), indent=2, ensure_ascii=False))


@config_app.command("table")
def config_table() -> None:
    """Print every setting as a Markdown table (for docs/configuration.md)."""
    from service.config import markdown_table

    typer.echo(markdown_table())


@incident_app.command("report")
def incident_report(
    category: Annotated[Category, typer.Option(help="Incident category.")],
    event_type: Annotated[str, typer.Option("--type", help="Event type within the category.")],
    level: Annotated[Level, typer.Option(help="Level: I (most severe) to IV.")],
    unit: Annotated[str, typer.Option(help="Unit id from the roster.")],
    title: Annotated[str, typer.Option(help="Short title.")],
    description: Annotated[str, typer.Option(help="What is known so far.")] = "",
    location: Annotated[str | None, typer.Option(help="Where it happened.")] = None,
    source: Annotated[
        str, typer.Option(help="phone, duty_officer, webhook or automated.")
    ] = "duty_officer",
    reporter: Annotated[str | None, typer.Option(help="Who reports (default: login name).")] = None,
) -> None:
    """Log an incident; the plan's first notifications are queued at once."""
    from pydantic import ValidationError

    try:
        report = IncidentReport(
            category=category,
            event_type=event_type,
            level=level,
            unit=unit,
            title=title,
            description=description,
            location=location,
            source=source,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise fail(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None

    async def work(dutyd: Dutyd) -> IncidentDetail:
        async with dutyd.sessions.begin() as session:
            row, deduplicated = await incidents.report_incident(
                session,
                dutyd.runtime,
                report,
                reporter=reporter or getpass.getuser(),
                now=dutyd.clock.now(),
                worker=dutyd.worker,
            )
        async with dutyd.sessions() as session:
            detail = await incidents.get_incident_detail(session, incident_id=row.id)
        detail.deduplicated = deduplicated
        return detail

    detail = with_store(work)
    if detail.deduplicated:
        typer.echo(f"incident {detail.id} updated (same dedup key as this open incident)")
        return
    typer.echo(
        f"incident {detail.id} logged under plan {detail.plan_id}; "
        f"{len(detail.messages)} message(s) queued"
    )


@incident_app.command("ack")
def incident_ack(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default: login name).")] = None,
) -> None:
    """Acknowledge an incident: its escalation stops."""

    async def work(dutyd: Dutyd) -> None:
        async with dutyd.sessions.begin() as session:
            await incidents.acknowledge(
                session,
                dutyd.runtime,
                incident_id=incident_id,
                actor=by or getpass.getuser(),
                now=dutyd.clock.now(),
            )

    with_store(work)
    typer.echo(f"incident {incident_id} acknowledged; escalation stopped")


def incident_action(
    incident_id: int,
    describe: Callable[[IncidentView], str],
    action: Callable[[Dutyd, AsyncSession], Awaitable[Any]],
) -> None:
    """Run one change on an incident in a transaction and print what became of it."""

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            row = await action(dutyd, session)
            return describe(incidents.incident_view(row))

    typer.echo(with_store(work))


ByOption = Annotated[str | None, typer.Option("--by", help="Who does it (default: login name).")]


@incident_app.command("status")
def incident_status(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    status: Annotated[IncidentStatus, typer.Argument(help="New status.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    by: ByOption = None,
) -> None:
    """Move an incident: acknowledged, responding, resolved, closed."""
    incident_action(
        incident_id,
        lambda v: f"incident {v.id} is {v.status.value}",
        lambda d, s: incidents.set_status(
            s,
            d.runtime,
            incident_id=incident_id,
            status=status,
            note=note,
            actor=by or getpass.getuser(),
            now=d.clock.now(),
        ),
    )


@incident_app.command("level")
def incident_level(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    level: Annotated[Level, typer.Argument(help="New level, I (most severe) to IV.")],
    reason: Annotated[str, typer.Option(help="Why the level changes.")],
    by: ByOption = None,
) -> None:
    """Raise or lower the level: the new level's plan, targets and deadlines take over."""
    incident_action(
        incident_id,
        lambda v: f"incident {v.id} is now level {v.level.value} under {v.plan_id}",
        lambda d, s: incidents.change_level(
            s,
            d.runtime,
            incident_id,
            level=level,
            reason=reason,
            actor=by or getpass.getuser(),
            now=d.clock.now(),
            worker=d.worker,
        ),
    )


@incident_app.command("escalate")
def incident_escalate(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")], by: ByOption = None
) -> None:
    """Escalate now: the next step fires at once."""
    incident_action(
        incident_id,
        lambda v: f"incident {v.id}: next escalation step fires now",
        lambda d, s: incidents.escalate_now(
            s, incident_id=incident_id, actor=by or getpass.getuser(), now=d.clock.now()
        ),
    )


@report_app.command("submit")
def report_submit(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    kind: Annotated[
        ReportKind, typer.Option(help="initial, written, followup, final, supplement.")
    ],
    content: Annotated[str, typer.Option(help="The report's text.")],
    by: ByOption = None,
) -> None:
    """Record a report made up the chain; it closes the oldest open duty of that kind."""

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            duty = await incidents.submit_report(
                session,
                dutyd.runtime,
                incident_id=incident_id,
                kind=kind,
                content=content,
                actor=by or getpass.getuser(),
                now=dutyd.clock.now(),
            )
            late = " (LATE)" if duty.late else ""
            return f"{kind.value} report for incident {incident_id} recorded{late}"

    typer.echo(with_store(work))


@report_app.command("overdue")
def report_overdue(
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    all_open: Annotated[
        bool, typer.Option("--all", help="Every open duty, not only overdue.")
    ] = False,
) -> None:
    """List report duties past their deadline (迟报), or every open one with --all."""
    from service.reports import service as reports

    async def work(dutyd: Dutyd) -> list[str]:
        now = dutyd.clock.now()
        async with dutyd.sessions() as session:
            rows = await reports.open_duties(session, now=now, overdue_only=not all_open, unit=unit)
        lines = []
        for incident, duty in rows:
            zone = dutyd.runtime.roster.units[incident.unit_id].zone
            late = f"LATE {format_duration(now - duty.due_at)}" if duty.due_at <= now else "due"
            lines.append(
                f"#{incident.id:<5} {incident.unit_id:<14} {duty.kind:<9}{duty.sequence:<3}"
                f"{duty.due_at.astimezone(zone):%Y-%m-%d %H:%M}  {late:<12} "
                f"{duty.responsible_desc}  {incident.title}"
            )
        return lines

    lines = with_store(work)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo("no open report duties" if all_open else "no overdue reports")


@report_app.command("stats")
def report_stats(
    start: Annotated[datetime, typer.Option("--from", help="Start (ISO 8601).")],
    end: Annotated[datetime, typer.Option("--to", help="End, exclusive.")],
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """Per unit: reports due in the period made on time, late, missing, still pending."""
    from service.reports import service as reports

    async def work(dutyd: Dutyd) -> list[str]:
        zone = ZoneInfo(dutyd.settings.timezone)
        begin, finish = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (start, end))
        async with dutyd.sessions() as session:
            found = await reports.report_stats(
                session, start=begin, end=finish, now=dutyd.clock.now(), unit=unit
            )
        return [
            f"{s.unit:<16} on time {s.on_time:>4}  late {s.late:>4}  missing {s.missing:>4}  "
            f"pending {s.pending:>4}"
            for s in found
        ]

    for line in with_store(work) or ["no reports due in that period"]:
        typer.echo(line)


@incident_app.command("replan")
def incident_replan(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    by: Annotated[str | None, typer.Option(help="Who re-plans (default: login name).")] = None,
) -> None:
    """Move an incident to the plan in force now; pending escalation follows the new plan."""

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            row = await incidents.replan(
                session,
                dutyd.runtime,
                incident_id=incident_id,
                actor=by or getpass.getuser(),
                now=dutyd.clock.now(),
            )
            return f"incident {incident_id} now runs under {row.plan_id} ({row.plan_version[:12]})"

    typer.echo(with_store(work))


@incident_app.command("show")
def incident_show(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print an incident, its timeline and every message with its delivery state."""

    async def work(dutyd: Dutyd) -> tuple[IncidentDetail, Dutyd]:
        async with dutyd.sessions() as session:
            return await incidents.get_incident_detail(session, incident_id=incident_id), dutyd

    detail, dutyd = with_store(work)
    if as_json:
        typer.echo(detail.model_dump_json(indent=2))
        return
    unit = dutyd.runtime.roster.units.get(detail.unit)
    zone = unit.zone if unit else None
    people = dutyd.runtime.roster.people

    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if at else "-"

    typer.echo(f"Incident {detail.id}: {detail.title}")
    typer.echo(
        f"  {detail.category.value}/{detail.event_type}, level {detail.level.value}, "
        f"unit {detail.unit}, status {detail.status.value}"
    )
    typer.echo(
        f"  learned {local(detail.learned_at)}; plan {detail.plan_id} "
        f"(version {detail.plan_version[:12]})"
    )
    if detail.acknowledged_at:
        typer.echo(f"  acknowledged {local(detail.acknowledged_at)} by {detail.acknowledged_by}")
    typer.echo("\nTimeline:")
    for entry in detail.timeline:
        typer.echo(f"  {local(entry.at)}  {entry.kind:<20} {entry.actor:<12} {entry.summary}")
    typer.echo("\nNotifications:")
    for m in detail.messages:
        name = people[m.person_id].name if m.person_id in people else m.person_id
        typer.echo(
            f"  #{m.id:<5} {local(m.created_at)}  {m.channel:<5} {name} <{m.address}>  "
            f"{m.state}{' via ' + m.transport if m.transport else ''}"
            f"{' at ' + local(m.sent_at) if m.sent_at else ''}"
            f"{' error: ' + m.error if m.error else ''}"
        )
    if detail.reports:
        typer.echo("\nReports:")
    for r in detail.reports:
        done = f"made {local(r.submitted_at)} by {r.submitted_by}" if r.submitted_at else r.state
        typer.echo(
            f"  {r.kind:<10} #{r.sequence:<3} due {local(r.due_at)}  {done}"
            f"{'  LATE' if r.late else ''}  responsible: {r.responsible}"
        )


@incident_app.command("list")
def incident_list() -> None:
    """List the most recent incidents."""

    async def work(dutyd: Dutyd) -> list:
        async with dutyd.sessions() as session:
            return await incidents.list_incidents(session)

    for view in with_store(work):
        typer.echo(
            f"{view.id:>6}  {view.status.value:<12} {view.level.value:<3} "
            f"{view.unit:<16} {view.title}"
        )


@plans_app.command("check")
def plans_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Plans directory (default from settings).")
    ] = None,
) -> None:
    """Load every plan strictly against the roster in force; print each problem, exit 1 if any."""
    current = settings()
    try:
        plan_set = load_plans(directory or current.plans_dir, roster_in_force())
    except DutydError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        for problem in problems:
            typer.echo(problem, err=True)
        raise fail(f"{len(problems)} problem(s) found", code=1) from None
    for loaded in plan_set.plans:
        typer.echo(f"ok  {loaded.plan.id:<28} {loaded.plan.kind.value:<10} {loaded.source_file}")


@plans_app.command("show")
def plans_show(
    plan_id: Annotated[
        str | None, typer.Argument(help="Plan id; omit to find the governing plan.")
    ] = None,
    category: Annotated[Category | None, typer.Option(help="Incident category.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Event type.")] = None,
    level: Annotated[Level | None, typer.Option(help="Only this level.")] = None,
    unit: Annotated[str | None, typer.Option(help="Incident unit.")] = None,
) -> None:
    """Print the effective plan after inheritance, saying which file each rule came from.

    Without PLAN, give --category, --type, --level and --unit: dutyd says which plan
    would govern such an incident, and why.
    """
    from service.plans.selection import choose_plan
    from service.plans.show import describe

    current = settings()
    try:
        roster = roster_in_force()
        plan_set = load_plans(current.plans_dir, roster)
        if plan_id is None:
            if not (category and event_type and level and unit):
                raise fail("give a PLAN id, or all of --category, --type, --level and --unit")
            choice = choose_plan(
                plan_set,
                roster,
                category=category,
                event_type=event_type,
                level=level,
                unit_id=unit,
            )
            typer.echo(f"# {choice.reason}")
            loaded = choice.plan
        else:
            found = plan_set.get(plan_id)
            if found is None:
                known = ", ".join(p.plan.id for p in plan_set.plans)
                raise fail(f"unknown plan {plan_id!r}; known plans: {known}")
            loaded = found
    except DutydError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"# version {loaded.digest}")
    typer.echo(describe(loaded.plan, [level] if level else None))


def instant_option(at: datetime | None) -> datetime:
    from service.clock import SystemClock

    instant = at or SystemClock().now()
    if instant.tzinfo is None:
        raise fail("times need a UTC offset, e.g. 2026-07-01T03:00:00+08:00")
    return instant


AtOption = Annotated[
    datetime | None, typer.Option(help="Instant (ISO 8601 with offset); default now.")
]


@roster_app.command("now")
def roster_now(
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    at: AtOption = None,
) -> None:
    """Say who holds each role at that time, overrides applied."""
    instant = instant_option(at)

    async def work(dutyd: Dutyd) -> list[str]:
        return [
            f"{h.unit_id:<16} {h.role:<18} {h.person.name} ({h.person.id})"
            for h in on_duty(dutyd.runtime.roster, instant, unit)
        ]

    for line in with_store(work):
        typer.echo(line)


@roster_app.command("check")
def roster_check(
    start: Annotated[datetime, typer.Option("--from", help="Start (ISO 8601 date or time).")],
    end: Annotated[datetime, typer.Option("--to", help="End, exclusive.")],
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """List every gap and rule violation in the period; exit 1 if there is any."""
    from service.roster.check import check_roster

    async def work(dutyd: Dutyd) -> list[str]:
        runtime = dutyd.runtime
        zone = ZoneInfo(dutyd.settings.timezone)
        begin, finish = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (start, end))
        if unit is not None:
            runtime.roster.unit(unit)
        found = check_roster(
            runtime.roster, runtime.rules, runtime.calendar, begin, finish, [unit] if unit else None
        )
        lines = []
        for v in found:
            unit_zone = runtime.roster.units[v.unit].zone
            lines.append(
                f"{v.unit:<16} {v.start.astimezone(unit_zone):%Y-%m-%d %H:%M} – "
                f"{v.end.astimezone(unit_zone):%Y-%m-%d %H:%M}  {v.rule:<32} "
                f"{','.join(v.people) or '-':<20} {v.detail}"
            )
        return lines

    lines = with_store(work)
    for line in lines:
        typer.echo(line)
    if lines:
        raise fail(f"{len(lines)} gap(s) or violation(s) found", code=1)
    typer.echo("no gaps or violations")


@roster_app.command("export")
def roster_export(
    csv_table: Annotated[bool, typer.Option("--csv", help="Only the duty table, as CSV.")] = False,
) -> None:
    """Print the roster in force as YAML (or its duty table as CSV)."""
    from service.roster.csvio import export_duty_table
    from service.roster.store import to_yaml

    async def work(dutyd: Dutyd) -> str:
        document = dutyd.runtime.roster.document
        return export_duty_table(document.duty_table) if csv_table else to_yaml(document)

    typer.echo(with_store(work), nl=False)


@roster_app.command("import")
def roster_import(
    path: Annotated[Path, typer.Argument(help="A roster YAML file, or a duty table .csv file.")],
    by: Annotated[str | None, typer.Option(help="Who imports (default: login name).")] = None,
) -> None:
    """Load a roster YAML (replacing the roster) or a duty table CSV (merged in): a new version."""
    from service.roster import service as roster_service
    from service.roster.csvio import parse_duty_table
    from service.yamlfile import read_yaml

    async def work(dutyd: Dutyd) -> str:
        roster = dutyd.runtime.roster
        if path.suffix.lower() == ".csv":
            lines = parse_duty_table(path.read_text(encoding="utf-8-sig"), roster, str(path))
            data = roster_service.with_duty_table(roster, lines)
            comment = f"imported {len(lines)} duty table lines from {path}"
        else:
            data, comment = read_yaml(path), f"imported from {path}"
        async with dutyd.sessions.begin() as session:
            version = await dutyd.store_roster(
                session, data, actor=by or getpass.getuser(), comment=comment, source=str(path)
            )
        return f"roster version {version}: {comment}"

    try:
        typer.echo(with_store(work))
    except typer.Exit:
        raise
    except DutydError as exc:
        raise fail(str(exc)) from None


@roster_app.command("override")
def roster_override(
    unit: Annotated[str, typer.Option(help="Unit id.")],
    role: Annotated[str, typer.Option(help="duty_officer or leader_on_shift.")],
    start: Annotated[datetime, typer.Option("--from", help="Start (ISO 8601 with offset).")],
    end: Annotated[datetime, typer.Option("--to", help="End (ISO 8601 with offset).")],
    person: Annotated[str, typer.Option(help="Who takes the shift.")],
    replaces: Annotated[str | None, typer.Option(help="Replace only this person.")] = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    requested_by: Annotated[str | None, typer.Option(help="Who asked (default: login).")] = None,
    approved_by: Annotated[
        str | None, typer.Option(help="Who approved; omit to leave pending.")
    ] = None,
) -> None:
    """Record an override (one person covers another's shift, whole or part)."""
    from service.roster import service as roster_service
    from service.roster.models import Override

    begin, finish = instant_option(start), instant_option(end)

    async def work(dutyd: Dutyd) -> str:
        now = dutyd.clock.now()
        override = Override(
            id=roster_service.new_override_id(),
            unit=unit,
            role=role,
            start=begin,
            end=finish,  # type: ignore[arg-type]
            person=person,
            replaces=replaces,
            reason=reason,
            requested_by=requested_by or getpass.getuser(),
            approved_by=approved_by,
            approved_at=now if approved_by else None,
        )
        data = roster_service.with_override(dutyd.runtime.roster, override)
        async with dutyd.sessions.begin() as session:
            version = await dutyd.store_roster(
                session,
                data,
                actor=requested_by or getpass.getuser(),
                comment=f"override {override.id}",
                source="override",
                now=now,
            )
        state = "approved" if approved_by else "pending approval"
        return f"override {override.id} recorded ({state}); roster version {version}"

    try:
        typer.echo(with_store(work))
    except (DutydError, ValueError) as exc:
        raise fail(str(exc)) from None


@roster_app.command("approve")
def roster_approve(
    override_id: Annotated[str, typer.Argument(help="The pending override's id.")],
    approved_by: Annotated[str | None, typer.Option(help="Who approves (default: login).")] = None,
) -> None:
    """Approve a pending override; from then on it changes who is on duty."""
    from service.roster import service as roster_service

    approver = approved_by or getpass.getuser()

    async def work(dutyd: Dutyd) -> str:
        now = dutyd.clock.now()
        data = roster_service.with_approval(
            dutyd.runtime.roster, override_id, approver=approver, now=now
        )
        async with dutyd.sessions.begin() as session:
            version = await dutyd.store_roster(
                session,
                data,
                actor=approver,
                comment=f"approved {override_id}",
                source="approval",
                now=now,
            )
        return f"override {override_id} approved by {approver}; roster version {version}"

    typer.echo(with_store(work))


@roster_app.command("versions")
def roster_versions(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
) -> None:
    """List the stored versions of the roster: when, by whom, why; * marks the one in force."""
    from service.roster import store as roster_store

    async def work(dutyd: Dutyd) -> list[str]:
        zone = ZoneInfo(dutyd.settings.timezone)
        async with dutyd.reads() as session:
            rows = await roster_store.list_versions(session, limit)
        return [
            f"{'*' if row.id == dutyd.runtime.roster_version else ' '} {row.id:>5}  "
            f"{row.created_at.astimezone(zone):%Y-%m-%d %H:%M}  {row.created_by:<20} {row.comment}"
            for row in rows
        ]

    for line in with_store(work):
        typer.echo(line)


@roster_app.command("restore")
def roster_restore(
    version: Annotated[int, typer.Argument(help="The version to put back in force.")],
    actor: Annotated[str | None, typer.Option(help="Who restores (default: login).")] = None,
) -> None:
    """Put an earlier roster version back in force, as a new version (later ones stay listed)."""
    from service.roster import service as roster_service

    who = actor or getpass.getuser()

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            data = await roster_service.restore_version(session, dutyd.runtime, version)
            new = await dutyd.store_roster(
                session,
                data,
                actor=who,
                comment=f"restored version {version}",
                source=f"roster version {version}",
            )
        return f"roster version {version} restored by {who} as version {new}"

    typer.echo(with_store(work))


@roster_app.command("feed")
def roster_feed(
    person: Annotated[str | None, typer.Option(help="A person's shifts.")] = None,
    unit: Annotated[str | None, typer.Option(help="A unit's shifts.")] = None,
) -> None:
    """Create a secret iCal link (RFC 5545) for a person's or a unit's shifts."""
    from service.roster.feeds import create_feed

    kind, subject = feed_subject(person, unit)

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            token = await create_feed(
                session, dutyd.runtime.roster, kind=kind, subject=subject, now=dutyd.clock.now()
            )
        return f"{dutyd.settings.public_base_url.rstrip('/')}/calendar/{token}.ics"

    typer.echo(with_store(work))


@roster_app.command("feed-revoke")
def roster_feed_revoke(
    person: Annotated[str | None, typer.Option(help="A person's feed links.")] = None,
    unit: Annotated[str | None, typer.Option(help="A unit's feed links.")] = None,
) -> None:
    """Revoke every secret iCal link of a person or unit (a lost phone, someone who left)."""
    from service.roster.feeds import revoke_feeds

    kind, subject = feed_subject(person, unit)

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            revoked = await revoke_feeds(
                session, dutyd.runtime.roster, kind=kind, subject=subject, now=dutyd.clock.now()
            )
        return f"revoked {revoked} calendar link(s) of {subject}"

    typer.echo(with_store(work))


def feed_subject(person: str | None, unit: str | None) -> tuple[str, str]:
    """("person", id) or ("unit", id) from the --person/--unit options, exactly one given."""
    if person is not None and unit is None:
        return "person", person
    if unit is not None and person is None:
        return "unit", unit
    raise fail("give exactly one of --person or --unit")


@handover_app.command("start")
def handover_start(
    unit: Annotated[str, typer.Option(help="Unit id.")],
    outgoing: Annotated[str, typer.Option(help="Person id of the outgoing duty officer.")],
    notes: Annotated[str, typer.Option(help="Anything the next officer must know.")] = "",
) -> None:
    """Write the handover: open incidents of the unit, for the incoming officer to confirm."""
    from service.roster.handover import start_handover

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            row = await start_handover(
                session,
                dutyd.runtime.roster,
                unit_id=unit,
                outgoing=outgoing,
                notes=notes,
                now=dutyd.clock.now(),
            )
            listed = "; ".join(
                f"#{i['id']} {i['title']} ({i['status']})" for i in row.open_incidents
            )
            return (
                f"handover {row.id}: {len(row.open_incidents)} open incident(s)"
                f"{': ' + listed if listed else ''}; expected successor: {row.incoming or '?'}"
            )

    typer.echo(with_store(work))


@handover_app.command("confirm")
def handover_confirm(
    handover_id: Annotated[int, typer.Argument(help="Handover number.")],
    person: Annotated[str, typer.Option(help="Person id of the incoming duty officer.")],
) -> None:
    """The incoming officer confirms the handover."""
    from service.roster.handover import confirm_handover

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            row = await confirm_handover(
                session,
                dutyd.runtime.roster,
                handover_id=handover_id,
                person=person,
                now=dutyd.clock.now(),
            )
            return f"handover {row.id} confirmed by {row.confirmed_by}"

    typer.echo(with_store(work))


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who or what holds the token.")],
    role: Annotated[tokens.Role, typer.Option(help="duty_officer, leader or admin.")],
) -> None:
    """Create an API token and print it once; only its hash is stored."""

    async def work(dutyd: Dutyd) -> str:
        async with dutyd.sessions.begin() as session:
            return await tokens.create_token(session, name=name, role=role, now=dutyd.clock.now())

    typer.echo(with_store(work))


@token_app.command("list")
def token_list() -> None:
    """List tokens (names and roles; the tokens themselves are not stored)."""

    async def work(dutyd: Dutyd) -> list:
        async with dutyd.sessions() as session:
            return await tokens.list_tokens(session)

    for row in with_store(work):
        state = "revoked" if row.revoked_at else "active"
        typer.echo(f"{row.name:<24} {row.role:<14} {state}")


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="Token name.")]) -> None:
    """Revoke a token at once."""

    async def work(dutyd: Dutyd) -> bool:
        async with dutyd.sessions.begin() as session:
            return await tokens.revoke_token(session, name=name, now=dutyd.clock.now())

    if not with_store(work):
        raise fail(f"no active token named {name!r}")
    typer.echo(f"token {name!r} revoked")


def main() -> None:
    app()


_ = Source
