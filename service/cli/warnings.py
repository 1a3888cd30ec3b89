"""`dutyd warning` and `dutyd recipients`: public warnings from the command line.

A warning's workflow is about who does each step (the drafter never signs), so these
commands act as the person `dutyd --as PERSON` names, with that person's roles."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth.policy import Principal
from service.cli.access import acting_person, principal_named
from service.cli.runner import fail, run
from service.flows import warnings as flow
from service.warnings.gate import SharedExclusive
from service.warnings.models import Stage, WarningContent
from service.warnings.recipients import import_recipients, set_opt_out
from service.warnings.recipients_csv import parse_recipients
from service.warnings.tables import WarningRow
from service.warnings.views import WarningView, list_warnings, warning_detail, warning_view
from service.yamlfile import YamlProblem, load_model

app = typer.Typer(help="Public warnings: draft, review, sign, update, lift.", no_args_is_help=True)
recipients_app = typer.Typer(help="Who public warnings reach.", no_args_is_help=True)
WarningArgument = Annotated[int, typer.Argument(help="Warning number.")]
Step = Callable[[AsyncSession, flow.WarningDesk, Principal], Awaitable[WarningRow]]


def content_from(path: Path) -> WarningContent:
    """A warning's content from a YAML (or JSON) file, with the file's lines in errors."""
    try:
        return load_model(path, WarningContent)
    except YamlProblem as exc:
        raise fail(exc.message) from None


def step(action: Step) -> WarningView:
    """One workflow step as the person `--as` names, in one transaction."""
    person = acting_person()
    if person is None:
        raise fail("warning commands act as a person: dutyd --as PERSON warning …")

    async def work(dutyd: Dutyd) -> WarningView:
        desk = flow.WarningDesk(
            dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now(), dutyd.cap_signing
        )

        async def in_step(session: AsyncSession) -> WarningView:
            row = await action(session, desk, await principal_named(session, person))
            await session.flush()
            return warning_view(row)

        # This process sends nothing: its own lock holds no outbox off (the daemon's row
        # locks do, on PostgreSQL).
        return await flow.run_step(dutyd.sessions, SharedExclusive(), in_step)

    return run(work)


def said(view: WarningView) -> None:
    typer.echo(
        f"warning {view.id} ({view.msg_type}, {view.colour} {view.hazard}, {view.unit}): "
        f"{view.stage}" + (f", {view.identifier}" if view.identifier else "")
    )


@app.command("draft")
def warning_draft(
    content_file: Annotated[Path, typer.Argument(help="YAML: hazard, level, areas, texts, …")],
    unit: Annotated[str, typer.Option(help="The issuing unit.")],
    incident: Annotated[
        list[int] | None, typer.Option(help="Linked incident (repeatable).")
    ] = None,
) -> None:
    """Draft (制作) a warning; nothing goes out until it is signed."""
    content = content_from(content_file)
    said(
        step(
            lambda s, d, p: flow.draft_warning(
                s, d, content, unit_id=unit, actor=p, incident_ids=incident or []
            )
        )
    )


@app.command("submit")
def warning_submit(warning_id: WarningArgument) -> None:
    """Send a draft for review (审核)."""
    said(step(lambda s, d, p: flow.submit_warning(s, d, warning_id, p)))


@app.command("review")
def warning_review(
    warning_id: WarningArgument,
    approve: Annotated[bool, typer.Option("--approve/--changes", help="Approve, or send back.")],
    comment: Annotated[str, typer.Option(help="What the reviewer says.")] = "",
) -> None:
    """Approve, or request changes (back to the drafter)."""
    said(
        step(
            lambda s, d, p: flow.review_warning(
                s, d, warning_id, p, approve=approve, comment=comment
            )
        )
    )


@app.command("sign")
def warning_sign(warning_id: WarningArgument, comment: Annotated[str, typer.Option()] = "") -> None:
    """Sign off (签发): published at once."""
    said(step(lambda s, d, p: flow.sign_warning(s, d, warning_id, p, comment=comment)))


@app.command("publish-now")
def warning_publish_now(
    warning_id: WarningArgument, reason: Annotated[str, typer.Option(help="Why.")]
) -> None:
    """The green channel for orange and red: published at once, reviewed after."""
    said(step(lambda s, d, p: flow.publish_at_once(s, d, warning_id, p, reason=reason)))


@app.command("review-after")
def warning_review_after(
    warning_id: WarningArgument, comment: Annotated[str, typer.Option()] = ""
) -> None:
    """The review after the fact of a green-channel warning."""
    said(step(lambda s, d, p: flow.review_after(s, d, warning_id, p, comment=comment)))


@app.command("update")
def warning_update(
    warning_id: WarningArgument,
    content_file: Annotated[Path, typer.Argument(help="YAML of the updated warning.")],
) -> None:
    """Draft an Update of a published warning (then review and sign it, or publish-now)."""
    content = content_from(content_file)
    said(step(lambda s, d, p: flow.draft_update(s, d, warning_id, content, p)))


@app.command("lift")
def warning_lift(
    warning_id: WarningArgument, reason: Annotated[str, typer.Option(help="Why.")]
) -> None:
    """Lift (解除) in one action: the Cancel goes at once to everyone it reached."""
    said(step(lambda s, d, p: flow.lift_warning(s, d, warning_id, p, reason=reason)))


@app.command("withdraw")
def warning_withdraw(
    warning_id: WarningArgument, reason: Annotated[str, typer.Option(help="Why.")]
) -> None:
    """Drop a warning that was never published."""
    said(step(lambda s, d, p: flow.withdraw_draft(s, d, warning_id, p, reason=reason)))


@app.command("list")
def warning_list(
    stage: Annotated[Stage | None, typer.Option(help="Only this stage.")] = None,
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """Warning messages, the newest first."""

    async def work(dutyd: Dutyd) -> list[WarningView]:
        async with dutyd.reads() as session:
            return await list_warnings(session, stage=stage, unit=unit)

    for view in run(work):
        said(view)


@app.command("show")
def warning_show(
    warning_id: WarningArgument,
    as_json: Annotated[bool, typer.Option("--json", help="The whole record as JSON.")] = False,
) -> None:
    """A warning with its steps and statistics."""

    async def work(dutyd: Dutyd) -> WarningView:
        async with dutyd.reads() as session:
            return await warning_detail(session, warning_id)

    view = run(work)
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
        return
    said(view)
    for s in view.steps:
        typer.echo(f"  {s.at.isoformat(timespec='seconds')}  {s.step:<18} {s.actor}  {s.comment}")
    if view.stats is not None:
        typer.echo(f"  targeted {view.stats.targeted}; fan-out {view.stats.fanout}")
        for channel, counts in sorted(view.stats.by_channel.items()):
            typer.echo(f"  {channel}: {json.dumps(counts.model_dump())}")


@recipients_app.command("import")
def recipients_import(
    path: Annotated[Path, typer.Argument(help="CSV (docs/warnings.md).")],
) -> None:
    """Import recipients: every rejected line is named, and then nothing is stored."""

    async def work(dutyd: Dutyd) -> str:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: {exc}") from None
        parsed = parse_recipients(text)
        if parsed.rejected:
            for r in parsed.rejected:
                typer.echo(f"{path}:{r.line}: {r.field or 'line'}: {r.reason}", err=True)
            raise fail(f"{len(parsed.rejected)} problem(s); nothing imported", code=1)
        async with dutyd.sessions.begin() as session:
            result = await import_recipients(
                session, parsed.recipients, dutyd.clock.now(), source=str(path)
            )
        return f"{result.created} recipient(s) added, {result.updated} updated"

    typer.echo(run(work))


@recipients_app.command("opt-out")
def recipients_opt_out(
    address: Annotated[str, typer.Argument(help="Phone number or email address.")],
    back_in: Annotated[bool, typer.Option("--in", help="Opt back in instead.")] = False,
) -> None:
    """Stop (or restart) public warnings to an address, recorded."""

    async def work(dutyd: Dutyd) -> list[int]:
        async with dutyd.sessions.begin() as session:
            return await set_opt_out(
                session, address, out=not back_in, now=dutyd.clock.now(), via="cli"
            )

    touched = run(work)
    if not touched:
        raise fail(f"no recipient has the address {address}, or it already is so")
    typer.echo(f"{address} opted {'in' if back_in else 'out'} ({len(touched)} recipient(s))")
