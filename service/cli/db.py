"""`dutyd db`: the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app import Dutyd
from service.cli.runner import run, run_with
from service.roster.roster import Roster

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""

    # Opening the store migrates it; nothing is left to do once it is open.
    async def work(_: Dutyd) -> None:
        typer.echo("database is at the newest schema")

    run(work)


@app.command("init")
def db_init(
    new: Annotated[
        bool,
        typer.Option(
            "--new",
            help="Create an empty database even where one existed before and is now missing.",
        ),
    ] = False,
) -> None:
    """Create the database (or bring it to the newest schema). Where dutyd created one
    before and it is gone, this refuses unless --new: restore the old one instead if you can."""

    async def create(dutyd: Dutyd) -> tuple[Roster, int]:
        return await dutyd.open_database(create=new)

    async def work(dutyd: Dutyd, _: tuple[Roster, int]) -> None:
        url = dutyd.db.url.render_as_string() if dutyd.db else ""
        typer.echo(f"database ready: {url}")

    run_with(create, work)
