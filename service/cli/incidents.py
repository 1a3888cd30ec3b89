"""`dutyd incident`: report, acknowledge, move along, re-plan and inspect incidents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.catalog import Category, Level
from service.cli.options import ByOption, who
from service.cli.render import echo_lines, incident_detail, incident_line
from service.cli.runner import fail, run, run_in_transaction
from service.flows import casualties, incidents
from service.flows.incident_detail import get_incident_detail
from service.incidents.models import (
    CasualtyUpdate,
    IncidentDetail,
    IncidentReport,
    IncidentStatus,
    IncidentView,
    ReceivedVia,
)
from service.incidents.tables import IncidentRow
from service.incidents.views import incident_view, list_incidents
from service.roster.roster import Roster

ModelT = TypeVar("ModelT", bound=BaseModel)

app = typer.Typer(help="Report, acknowledge and inspect incidents.", no_args_is_help=True)

IncidentArgument = Annotated[int, typer.Argument(help="Incident number.")]
# The casualty figures, as both `report` and `casualties` take them.
Deaths = Annotated[int, typer.Option(help="Dead (死亡).")]
SeriouslyInjured = Annotated[int, typer.Option(help="Seriously injured (重伤).")]
Injured = Annotated[int, typer.Option(help="Injured (受伤).")]
Missing = Annotated[int, typer.Option(help="Missing (失踪).")]
Trapped = Annotated[int, typer.Option(help="Trapped (被困).")]
Evacuated = Annotated[int, typer.Option(help="Evacuated (转移).")]


@app.command("report")
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
    deaths: Deaths = 0,
    seriously_injured: SeriouslyInjured = 0,
    injured: Injured = 0,
    missing: Missing = 0,
    trapped: Trapped = 0,
    evacuated: Evacuated = 0,
    losses: Annotated[str, typer.Option(help="Economic and other losses.")] = "",
    caller_name: Annotated[str, typer.Option(help="Who reported it to the office.")] = "",
    caller_unit: Annotated[str, typer.Option(help="The caller's unit.")] = "",
    caller_phone: Annotated[str, typer.Option(help="A number to call back.")] = "",
    received_via: Annotated[
        ReceivedVia | None, typer.Option(help="How the office heard of it.")
    ] = None,
    actions_taken: Annotated[str, typer.Option(help="What has already been done.")] = "",
    others_told: Annotated[str, typer.Option(help="Who else has been told.")] = "",
) -> None:
    """Log an incident with its intake record (接报登记); the plan's first notifications
    are queued at once."""
    report = parsed(
        IncidentReport,
        category=category,
        event_type=event_type,
        level=level,
        unit=unit,
        title=title,
        description=description,
        location=location,
        source=source,
        casualties=figures(deaths, seriously_injured, injured, missing, trapped, evacuated),
        losses=losses,
        intake=dict(
            reporter_name=caller_name,
            reporter_unit=caller_unit,
            reporter_phone=caller_phone,
            received_via=received_via,
            actions_taken=actions_taken,
            others_told=others_told,
        ),
    )

    async def work(dutyd: Dutyd) -> IncidentDetail:
        async with dutyd.sessions.begin() as session:
            row, deduplicated = await incidents.report_incident(
                session,
                report,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                reporter=who(reporter),
                now=dutyd.clock.now(),
                worker=dutyd.worker,
                learned_within=timedelta(hours=dutyd.settings.learned_at_max_age_hours),
            )
        # Read back once committed: what is printed is what the daemon will find.
        async with dutyd.sessions() as session:
            detail = await get_incident_detail(session, incident_id=row.id)
        detail.deduplicated = deduplicated
        return detail

    detail = run(work)
    if detail.deduplicated:
        typer.echo(f"incident {detail.id} updated (same dedup key as this open incident)")
        return
    typer.echo(
        f"incident {detail.id} logged under plan {detail.plan_id}; "
        f"{len(detail.messages)} message(s) queued"
    )


def figures(
    deaths: int, seriously_injured: int, injured: int, missing: int, trapped: int, evacuated: int
) -> dict[str, int]:
    return {
        "deaths": deaths,
        "seriously_injured": seriously_injured,
        "injured": injured,
        "missing": missing,
        "trapped": trapped,
        "evacuated": evacuated,
    }


def parsed(model: type[ModelT], **values: object) -> ModelT:
    """Values from the command line as the API would take them, or a clear refusal."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise fail(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None


@app.command("casualties")
def incident_casualties(
    incident_id: IncidentArgument,
    deaths: Deaths = 0,
    seriously_injured: SeriouslyInjured = 0,
    injured: Injured = 0,
    missing: Missing = 0,
    trapped: Trapped = 0,
    evacuated: Evacuated = 0,
    losses: Annotated[str | None, typer.Option(help="Losses (default: unchanged).")] = None,
    note: Annotated[str, typer.Option(help="Where the figures come from.")] = "",
    by: ByOption = None,
) -> None:
    """Record casualties and losses as now known (they replace the figures before); a
    level the plan's thresholds make is raised or proposed, as the plan says."""
    update = parsed(
        CasualtyUpdate,
        casualties=figures(deaths, seriously_injured, injured, missing, trapped, evacuated),
        losses=losses,
        note=note,
    )

    def describe(view: IncidentView) -> str:
        proposal = (
            f"; level {view.proposed_level.value} proposed: {view.proposed_reason}"
            if view.proposed_level
            else ""
        )
        return f"incident {view.id}: figures recorded; level {view.level.value}{proposal}"

    incident_action(
        describe,
        lambda d, s: casualties.update_casualties(
            s,
            incident_id,
            update,
            roster=d.runtime.roster,
            plans=d.runtime.plans,
            actor=who(by),
            now=d.clock.now(),
            worker=d.worker,
        ),
    )


@app.command("ack")
def incident_ack(
    incident_id: IncidentArgument,
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default: login name).")] = None,
) -> None:
    """Acknowledge an incident: its escalation stops."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> None:
        await incidents.acknowledge(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            actor=who(by),
            now=dutyd.clock.now(),
        )

    run_in_transaction(work)
    typer.echo(f"incident {incident_id} acknowledged; escalation stopped")


def incident_action(
    describe: Callable[[IncidentView], str],
    action: Callable[[Dutyd, AsyncSession], Awaitable[IncidentRow]],
) -> None:
    """Run one change on an incident in a transaction and print what became of it."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        return describe(incident_view(await action(dutyd, session)))

    typer.echo(run_in_transaction(work))


@app.command("status")
def incident_status(
    incident_id: IncidentArgument,
    status: Annotated[IncidentStatus, typer.Argument(help="New status.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    by: ByOption = None,
) -> None:
    """Move an incident: acknowledged, responding, resolved, closed."""
    incident_action(
        lambda v: f"incident {v.id} is {v.status.value}",
        lambda d, s: incidents.set_status(
            s,
            roster=d.runtime.roster,
            plans=d.runtime.plans,
            incident_id=incident_id,
            status=status,
            note=note,
            actor=who(by),
            now=d.clock.now(),
        ),
    )


@app.command("level")
def incident_level(
    incident_id: IncidentArgument,
    level: Annotated[Level, typer.Argument(help="New level, I (most severe) to IV.")],
    reason: Annotated[str, typer.Option(help="Why the level changes.")],
    by: ByOption = None,
) -> None:
    """Raise or lower the level: the new level's plan, targets and deadlines take over."""
    incident_action(
        lambda v: f"incident {v.id} is now level {v.level.value} under {v.plan_id}",
        lambda d, s: incidents.change_level(
            s,
            incident_id,
            roster=d.runtime.roster,
            plans=d.runtime.plans,
            level=level,
            reason=reason,
            actor=who(by),
            now=d.clock.now(),
            worker=d.worker,
        ),
    )


@app.command("escalate")
def incident_escalate(incident_id: IncidentArgument, by: ByOption = None) -> None:
    """Escalate now: the next step fires at once."""
    incident_action(
        lambda v: f"incident {v.id}: next escalation step fires now",
        lambda d, s: incidents.escalate_now(
            s, incident_id=incident_id, actor=who(by), now=d.clock.now()
        ),
    )


@app.command("replan")
def incident_replan(
    incident_id: IncidentArgument,
    by: Annotated[str | None, typer.Option(help="Who re-plans (default: login name).")] = None,
) -> None:
    """Move an incident to the plan in force now; pending escalation follows the new plan."""
    incident_action(
        lambda v: f"incident {incident_id} now runs under {v.plan_id} ({v.plan_version[:12]})",
        lambda d, s: incidents.replan(
            s,
            roster=d.runtime.roster,
            plans=d.runtime.plans,
            incident_id=incident_id,
            actor=who(by),
            now=d.clock.now(),
            worker=d.worker,
        ),
    )


@app.command("show")
def incident_show(
    incident_id: IncidentArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print an incident, its timeline and every message with its delivery state."""

    async def work(dutyd: Dutyd) -> tuple[IncidentDetail, Roster]:
        async with dutyd.sessions() as session:
            detail = await get_incident_detail(session, incident_id=incident_id)
        return detail, dutyd.runtime.roster

    detail, roster = run(work)
    if as_json:
        typer.echo(detail.model_dump_json(indent=2))
        return
    echo_lines(incident_detail(detail, roster))


@app.command("list")
def incident_list(
    search: Annotated[
        str | None,
        typer.Option(help="Words to find in the record: what happened, reporter, what was done."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    status: Annotated[IncidentStatus | None, typer.Option(help="Only this status.")] = None,
) -> None:
    """List the most recent incidents, or those matching a search."""

    async def work(dutyd: Dutyd) -> list[IncidentView]:
        async with dutyd.sessions() as session:
            return await list_incidents(session, search=search, unit=unit, status=status)

    echo_lines(incident_line(view) for view in run(work))
