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
from typing import Annotated, TypeVar

import typer

from service.app import Dutyd
from service.auth import tokens
from service.catalog import Category, Level
from service.config import Settings, load_settings
from service.errors import DutydError
from service.incidents import service as incidents
from service.incidents.models import IncidentDetail, IncidentReport
from service.logs import configure_logging
from service.plans.loader import load_plans
from service.plans.models import Source
from service.roster.loader import load_roster
from service.roster.report import on_duty

T = TypeVar("T")

app = typer.Typer(
    help="dutyd: emergency duty and incident alerting.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
incident_app = typer.Typer(help="Report, acknowledge and inspect incidents.", no_args_is_help=True)
plans_app = typer.Typer(help="Check and list emergency plans.", no_args_is_help=True)
roster_app = typer.Typer(help="Who is on duty.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
for sub, name in (
    (incident_app, "incident"),
    (plans_app, "plans"),
    (roster_app, "roster"),
    (token_app, "token"),
    (db_app, "db"),
    (config_app, "config"),
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
        api = create_api(Dutyd(current))
        uvicorn.run(
            api,
            host=host or current.http_host,
            port=port or current.http_port,
            log_level=current.log_level.lower(),
            access_log=False,
        )
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
            row = await incidents.report_incident(
                session,
                dutyd.runtime,
                report,
                reporter=reporter or getpass.getuser(),
                now=dutyd.clock.now(),
                worker=dutyd.worker,
            )
        async with dutyd.sessions() as session:
            return await incidents.get_incident_detail(session, incident_id=row.id)

    detail = with_store(work)
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
                incident_id=incident_id,
                actor=by or getpass.getuser(),
                now=dutyd.clock.now(),
            )

    with_store(work)
    typer.echo(f"incident {incident_id} acknowledged; escalation stopped")


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
    """Load every plan strictly; print each problem and exit non-zero if there is any."""
    current = settings()
    try:
        roster = load_roster(current.roster_file)
        plan_set = load_plans(directory or current.plans_dir, roster)
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
        roster = load_roster(current.roster_file)
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


@roster_app.command("now")
def roster_now(
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="Instant (ISO 8601, with offset); default now.")
    ] = None,
) -> None:
    """Say who holds each role at that time."""
    current = settings()
    try:
        roster = load_roster(current.roster_file)
        from service.clock import SystemClock

        instant = at or SystemClock().now()
        if instant.tzinfo is None:
            raise fail("--at needs a UTC offset, e.g. 2026-07-01T03:00:00+08:00")
        for holder in on_duty(roster, instant, unit):
            typer.echo(
                f"{holder.unit_id:<16} {holder.role:<18} {holder.person.name} ({holder.person.id})"
            )
    except DutydError as exc:
        raise fail(str(exc)) from None


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
