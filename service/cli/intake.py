"""`dutyd intake`: machine sources, their mapping rules checked, and a dry run of what a
sample payload would become."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from service.app import Dutyd
from service.cli.runner import fail, run, settings
from service.errors import DutydError, invalid_from
from service.intake.checkins import SourceState, source_states
from service.intake.models import AmNotification
from service.intake.rules import Unmapped, load_intake_rules, map_alert
from service.intake.webhook import WebhookBody, fingerprint

app = typer.Typer(help="Machines that report: sources and mapping rules.", no_args_is_help=True)


@app.command("check")
def intake_check(
    path: Annotated[Path | None, typer.Argument(help="Default: the intake_file setting.")] = None,
) -> None:
    """Check the intake file: every mistake named with its line."""
    target = path or settings().intake_file
    try:
        rules = load_intake_rules(target)
    except DutydError as exc:
        raise fail(str(exc), code=1) from None
    typer.echo(f"{target}: {len(rules.sources)} source(s), {len(rules.rules)} rule(s): OK")


@app.command("dry-run")
def intake_dry_run(
    payload: Annotated[Path, typer.Argument(help="A JSON body as the source would send it.")],
    source: Annotated[str, typer.Option(help="The source it comes from.")],
) -> None:
    """What each alert of a sample payload would become, by the rules in force; nothing is
    stored or sent."""
    rules = load_intake_rules(settings().intake_file)
    known = rules.sources.get(source)
    if known is None:
        raise fail(f"unknown source {source}; known: {', '.join(sorted(rules.sources))}")
    try:
        data = json.loads(payload.read_text(encoding="utf-8"))
        if known.kind == "alertmanager":
            notification = AmNotification.model_validate(data)
            alerts = [
                (
                    a.status,
                    a.labels,
                    {**notification.commonAnnotations, **a.annotations},
                    a.fingerprint,
                )
                for a in notification.alerts
            ]
        else:
            body = WebhookBody.model_validate(data)
            alerts = [(a.status, a.labels, a.annotations, fingerprint(a)) for a in body.alerts]
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"{payload}: {exc}") from None
    except ValidationError as exc:
        raise fail(f"{payload}: {invalid_from(exc, 'payload').message}") from None
    for status, labels, notes, key in alerts:
        try:
            m = map_alert(rules, source, labels, notes, key)
        except Unmapped as exc:
            typer.echo(f"{status} {labels}: IGNORED: {exc}")
            continue
        action = "resolves" if status == "resolved" else "opens or counts on"
        typer.echo(
            f"{status} {labels}: {action} [{m.dedup_key}] {m.category.value}/{m.event_type} "
            f"level {m.level.value} in {m.unit}: {m.title} (rule {m.rule})"
        )


@app.command("sources")
def intake_sources() -> None:
    """Every source, with a heartbeat source's last check-in."""

    async def work(dutyd: Dutyd) -> list[SourceState]:
        async with dutyd.reads() as session:
            return await source_states(session, dutyd.intake_rules, dutyd.clock.now())

    for state in run(work):
        last = state.last_check_in.isoformat(timespec="seconds") if state.last_check_in else "—"
        every = f"every {state.every_minutes} min, last {last}" if state.every_minutes else ""
        typer.echo(f"{state.name:<20} {state.kind:<13} {every}{'  SILENT' if state.silent else ''}")
