"""`dutyd plans`: check emergency plans and show the effective one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.catalog import Category, Level
from service.cli.render import echo_lines, plan_line
from service.cli.runner import fail, roster_in_force, settings
from service.errors import DutydError
from service.plans.loader import load_plans
from service.plans.models import LoadedPlan
from service.plans.selection import choose_plan, find_ties
from service.plans.show import describe

app = typer.Typer(help="Check and list emergency plans.", no_args_is_help=True)


@app.command("check")
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
    echo_lines(plan_line(loaded) for loaded in plan_set.plans)
    for tie in find_ties(plan_set, roster_in_force()):
        typer.echo(f"warning: {tie}", err=True)


@app.command("show")
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
    current = settings()
    loaded: LoadedPlan
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
