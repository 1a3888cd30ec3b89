"""The `dutyd` command.

Commands other than `serve` work on the database directly (the same one the daemon
uses), so they work whether or not the daemon runs; the daemon picks up what they
queue within its poll interval.

One module per command group; `runner` starts the store and reports errors, `render`
turns what the commands read into text.
"""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli import (
    audit,
    config,
    db,
    drills,
    handover,
    incidents,
    intake,
    plans,
    reports,
    roster,
    statistics,
    tokens,
    users,
    warnings,
)
from service.cli.serve import serve

app = typer.Typer(
    help="dutyd: emergency duty and incident alerting.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def acting_as(
    context: typer.Context,
    as_person: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="DUTYD_AS",
            help="The person (with a console account) who acts: their roles decide "
            "what the command may do, and their name is recorded.",
        ),
    ] = None,
) -> None:
    """dutyd: emergency duty and incident alerting."""
    context.obj = {"as": as_person}


app.command()(serve)
for group, name in (
    (incidents.app, "incident"),
    (plans.app, "plans"),
    (roster.app, "roster"),
    (tokens.app, "token"),
    (users.app, "user"),
    (db.app, "db"),
    (config.app, "config"),
    (handover.app, "handover"),
    (reports.app, "report"),
    (warnings.app, "warning"),
    (intake.app, "intake"),
    (audit.app, "audit"),
    (drills.app, "drill"),
    (statistics.app, "statistics"),
    (warnings.recipients_app, "recipients"),
):
    app.add_typer(group, name=name)


def main() -> None:
    app()


__all__ = ["app", "main"]
