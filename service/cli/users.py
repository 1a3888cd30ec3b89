"""`dutyd user`: console accounts of the roster's people, and the roles they hold where."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth import accounts
from service.auth.policy import Grant
from service.auth.tokens import Role
from service.cli.options import who
from service.cli.runner import fail, run, run_in_transaction

app = typer.Typer(help="Console accounts and their roles per unit.", no_args_is_help=True)

PersonArgument = Annotated[str, typer.Argument(help="Person id from the roster.")]
UnitOption = Annotated[
    str | None, typer.Option(help="Unit the role holds in (default: every unit).")
]
OnlyOption = Annotated[bool, typer.Option("--only-this-unit", help="Not the units under it.")]


def invite_link(dutyd: Dutyd, secret: str) -> str:
    return f"{dutyd.settings.public_base_url.rstrip('/')}/console/invite/{secret}"


async def _invite(dutyd: Dutyd, session: AsyncSession, person: str, grant: Grant | None) -> str:
    now = dutyd.clock.now()
    roster = dutyd.runtime.roster
    account = await accounts.ensure_account(
        session, person, known_people=set(roster.people), now=now
    )
    if grant is not None:
        await accounts.grant_role(
            session, account, grant, known_units=set(roster.units), by=who(None), now=now
        )
    valid = timedelta(hours=dutyd.settings.invite_valid_hours)
    secret = await accounts.create_invite(session, account, by=who(None), now=now, valid=valid)
    return invite_link(dutyd, secret)


@app.command("invite")
def user_invite(
    person: PersonArgument,
    role: Annotated[Role | None, typer.Option(help="Grant this role too.")] = None,
    unit: UnitOption = None,
    only_this_unit: OnlyOption = False,
) -> None:
    """Print a one-time link with which PERSON sets a password (and logs in)."""
    grant = Grant(role, unit, not only_this_unit) if role else None
    link = run_in_transaction(lambda d, s: _invite(d, s, person, grant))
    typer.echo(link)


@app.command("create-admin")
def user_create_admin(person: PersonArgument) -> None:
    """Make PERSON an admin of every unit and print their one-time link: the first
    account of a new installation."""
    link = run_in_transaction(lambda d, s: _invite(d, s, person, Grant(Role.admin)))
    typer.echo(f"{person} is admin of every unit. Set the password and log in at:\n{link}")


@app.command("set-password")
def user_set_password(
    person: PersonArgument,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set PERSON's password (asked twice, or read from standard input)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)

    async def work(dutyd: Dutyd, session: AsyncSession) -> None:
        account = await accounts.ensure_account(
            session, person, known_people=set(dutyd.runtime.roster.people), now=dutyd.clock.now()
        )
        accounts.set_password(account, password)
        await accounts.end_sessions(session, account.id, dutyd.clock.now())

    run_in_transaction(work)
    typer.echo(f"password of {person} set; their console sessions ended")


@app.command("disable")
def user_disable(person: PersonArgument) -> None:
    """Disable PERSON's account at once: no more logins, every open session ended."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> int:
        account = await accounts.require_account(session, person)
        return await accounts.disable_account(session, account, dutyd.clock.now())

    ended = run_in_transaction(work)
    typer.echo(f"{person} disabled; {ended} session(s) ended")


@app.command("unlock")
def user_unlock(person: PersonArgument) -> None:
    """Lift a lockout after failed logins."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> None:
        account = await accounts.require_account(session, person)
        account.failed_logins, account.locked_until = 0, None

    run_in_transaction(work)
    typer.echo(f"{person} unlocked")


@app.command("grant")
def user_grant(
    person: PersonArgument,
    role: Annotated[Role, typer.Argument(help="The role.")],
    unit: UnitOption = None,
    only_this_unit: OnlyOption = False,
) -> None:
    """Grant PERSON a role on a unit and the units under it (or every unit)."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> bool:
        roster = dutyd.runtime.roster
        account = await accounts.ensure_account(
            session, person, known_people=set(roster.people), now=dutyd.clock.now()
        )
        return await accounts.grant_role(
            session,
            account,
            Grant(role, unit, not only_this_unit),
            known_units=set(roster.units),
            by=who(None),
            now=dutyd.clock.now(),
        )

    changed = run_in_transaction(work)
    typer.echo(
        f"{person}: {role.value} on {unit or 'every unit'}" + ("" if changed else " (had it)")
    )


@app.command("revoke")
def user_revoke(
    person: PersonArgument,
    role: Annotated[Role, typer.Argument(help="The role.")],
    unit: UnitOption = None,
) -> None:
    """Take a role on a unit (or on every unit) from PERSON."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> bool:
        return await accounts.revoke_role(
            session, await accounts.require_account(session, person), role, unit
        )

    if not run_in_transaction(work):
        raise fail(f"{person} holds no {role.value} on {unit or 'every unit'}")
    typer.echo(f"{person}: {role.value} on {unit or 'every unit'} revoked")


@app.command("list")
def user_list() -> None:
    """Accounts with their roles, and whether a password is set."""

    async def work(dutyd: Dutyd) -> list[str]:
        async with dutyd.sessions() as session:
            found = await accounts.list_accounts(session)
        return [
            f"{a.person_id:<16} {'password set' if a.password_hash else 'invited':<13} "
            + ("; ".join(g.describe() for g in grants) or "no role")
            for a, grants in found
        ]

    for line in run(work):
        typer.echo(line)
