"""`dutyd handover`: shift handovers (交接班)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.cli.options import who
from service.cli.render import handover_started
from service.cli.runner import run_in_transaction
from service.office.handover import confirm_handover, start_handover

app = typer.Typer(help="Shift handovers (交接班).", no_args_is_help=True)


@app.command("start")
def handover_start(
    unit: Annotated[str, typer.Option(help="Unit id.")],
    outgoing: Annotated[str, typer.Option(help="Person id of the outgoing duty officer.")],
    notes: Annotated[str, typer.Option(help="Anything the next officer must know.")] = "",
) -> None:
    """Write the handover: open incidents of the unit, for the incoming officer to confirm."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        row = await start_handover(
            session,
            dutyd.runtime.roster,
            unit_id=unit,
            outgoing=who(outgoing),
            notes=notes,
            now=dutyd.clock.now(),
        )
        return handover_started(row)

    typer.echo(run_in_transaction(work))


@app.command("confirm")
def handover_confirm(
    handover_id: Annotated[int, typer.Argument(help="Handover number.")],
    person: Annotated[str, typer.Option(help="Person id of the incoming duty officer.")],
) -> None:
    """The incoming officer confirms the handover."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        row = await confirm_handover(
            session,
            dutyd.runtime.roster,
            handover_id=handover_id,
            person=who(person),
            now=dutyd.clock.now(),
        )
        return f"handover {row.id} confirmed by {row.confirmed_by}"

    typer.echo(run_in_transaction(work))
