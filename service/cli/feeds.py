"""`dutyd roster feed` and `feed-revoke`: secret iCal links to shifts."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.cli.runner import fail, run_in_transaction
from service.roster.feeds import create_feed, revoke_feeds


def feed_subject(person: str | None, unit: str | None) -> tuple[str, str]:
    """("person", id) or ("unit", id) from the --person/--unit options, exactly one given."""
    if person is not None and unit is None:
        return "person", person
    if unit is not None and person is None:
        return "unit", unit
    raise fail("give exactly one of --person or --unit")


def roster_feed(
    person: Annotated[str | None, typer.Option(help="A person's shifts.")] = None,
    unit: Annotated[str | None, typer.Option(help="A unit's shifts.")] = None,
) -> None:
    """Create a secret iCal link (RFC 5545) for a person's or a unit's shifts."""
    kind, subject = feed_subject(person, unit)

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        token = await create_feed(
            session, dutyd.runtime.roster, kind=kind, subject=subject, now=dutyd.clock.now()
        )
        return f"{dutyd.settings.public_base_url.rstrip('/')}/calendar/{token}.ics"

    typer.echo(run_in_transaction(work))


def roster_feed_revoke(
    person: Annotated[str | None, typer.Option(help="A person's feed links.")] = None,
    unit: Annotated[str | None, typer.Option(help="A unit's feed links.")] = None,
) -> None:
    """Revoke every secret iCal link of a person or unit (a lost phone, someone who left)."""
    kind, subject = feed_subject(person, unit)

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        revoked = await revoke_feeds(
            session, dutyd.runtime.roster, kind=kind, subject=subject, now=dutyd.clock.now()
        )
        return f"revoked {revoked} calendar link(s) of {subject}"

    typer.echo(run_in_transaction(work))
