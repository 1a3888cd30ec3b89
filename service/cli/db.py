"""`dutyd db`: the database schema."""

from __future__ import annotations

import typer

from service.app import Dutyd
from service.cli.runner import run

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""

    # Opening the store migrates it; nothing is left to do once it is open.
    async def work(_: Dutyd) -> None:
        typer.echo("database is at the newest schema")

    run(work)
