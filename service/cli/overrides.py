"""`dutyd roster override` and `approve`: one person covers another's shift."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth.tokens import Role
from service.cli.options import instant, who
from service.cli.runner import run_in_transaction
from service.office.overrides import approve_override, request_override

# The CLI runs on the server with direct access to the database: whoever can run it can
# change any row anyway, so it acts with the role that may do everything.
CLI_ROLE = Role.admin


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
    begin, finish = instant(start), instant(end)
    requester = who(requested_by)
    approver = who(approved_by) if approved_by else None

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        now = dutyd.clock.now()
        override, data = request_override(
            dutyd.runtime.roster,
            unit=unit,
            role=role,
            start=begin,
            end=finish,
            person=person,
            replaces=replaces,
            reason=reason,
            requested_by=requester,
            approved_by=approver,
            actor=requester,
            actor_role=CLI_ROLE,
            now=now,
        )
        version = await dutyd.store_roster(
            session,
            data,
            actor=requester,
            comment=f"override {override.id}",
            source="override",
            now=now,
        )
        state = "approved" if approver else "pending approval"
        return f"override {override.id} recorded ({state}); roster version {version}"

    typer.echo(run_in_transaction(work))


def roster_approve(
    override_id: Annotated[str, typer.Argument(help="The pending override's id.")],
    approved_by: Annotated[str | None, typer.Option(help="Who approves (default: login).")] = None,
) -> None:
    """Approve a pending override; from then on it changes who is on duty."""
    approver = who(approved_by)

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        now = dutyd.clock.now()
        data = approve_override(
            dutyd.runtime.roster,
            override_id,
            approver=approver,
            approver_role=CLI_ROLE,
            now=now,
        )
        version = await dutyd.store_roster(
            session,
            data,
            actor=approver,
            comment=f"approved {override_id}",
            source="approval",
            now=now,
        )
        return f"override {override_id} approved by {approver}; roster version {version}"

    typer.echo(run_in_transaction(work))
