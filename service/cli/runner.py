"""Running a command's work against the database: settings, start-up, errors.

Every command other than `serve` opens the same database the daemon uses, does its work
and closes it again. It wakes nothing: what it queues is picked up by the daemon (another
process) within its poll interval.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.audit.context import Actor, set_actor
from service.config import Settings, load_settings
from service.errors import DutydError
from service.logs import configure_logging
from service.roster.roster import Roster

T = TypeVar("T")
S = TypeVar("S")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error; raise the result to exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except DutydError as exc:
        raise fail(str(exc)) from None


def _run(start: Callable[[Dutyd], Awaitable[S]], work: Callable[[Dutyd, S], Awaitable[T]]) -> T:
    """The one start-up of the store: `start` it, do `work` with what `start` returned,
    stop. A DutydError anywhere is printed as a plain message and exits with 2."""
    current = settings()
    # Log lines would mix with the command's output; only trouble is worth showing.
    configure_logging("WARNING", current.log_format)

    async def session() -> T:
        dutyd = Dutyd(current)
        try:
            started = await start(dutyd)
            await _check_access(dutyd, started)
            return await work(dutyd, started)
        finally:
            await dutyd.stop()

    try:
        return asyncio.run(session())
    except DutydError as exc:
        raise fail(str(exc)) from None


async def _check_access(dutyd: Dutyd, started: object) -> None:
    """The access policy's word on this command (`cli.access`), once the store is open."""
    from service.cli.access import acting_person, check_command, get_current_context

    context = get_current_context(silent=True)
    if context is None:
        return
    runtime = getattr(dutyd, "runtime", None)
    roster = runtime.roster if runtime is not None else None
    if roster is None and isinstance(started, tuple) and isinstance(started[0], Roster):
        roster = started[0]
    if roster is None:
        return  # a command that opens no records (db init) keeps the machine only
    person = acting_person(context)
    set_actor(
        Actor(
            person or f"os:{getpass.getuser()}",
            "person" if person else "cli",
            "",
            f"dutyd {context.command_path.split(' ', 1)[-1]}",
            dutyd.clock.now,
        )
    )
    async with dutyd.reads() as session:
        await check_command(
            session,
            roster,
            context,
            identity_required=dutyd.settings.cli_identity == "required",
        )


def run_with(start: Callable[[Dutyd], Awaitable[S]], work: Callable[[Dutyd, S], Awaitable[T]]) -> T:
    """`work` after a start of one's own (`db init` opens the database its own way)."""
    return _run(start, work)


def run(work: Callable[[Dutyd], Awaitable[T]]) -> T:
    """Run `work` against the database, with roster, plans and rules in force loaded."""

    async def with_dutyd(dutyd: Dutyd, _: None) -> T:
        return await work(dutyd)

    return _run(Dutyd.open_store, with_dutyd)


def run_in_transaction(work: Callable[[Dutyd, AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one write transaction, committed when it returns, rolled back if it
    raises."""

    async def in_transaction(dutyd: Dutyd) -> T:
        async with dutyd.sessions.begin() as session:
            return await work(dutyd, session)

    return run(in_transaction)


def roster_in_force() -> Roster:
    """The roster stored in the database (seeded from the YAML file on a new database).

    Plans are not checked against it: the commands that need only the roster are the
    ones that check plans, and must report broken plans rather than fail to start.
    """

    async def roster(_: Dutyd, opened: tuple[Roster, int]) -> Roster:
        return opened[0]

    return _run(Dutyd.open_database, roster)
