"""`dutyd token`: API bearer tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth import tokens
from service.auth.tables import ApiTokenRow
from service.cli.render import echo_lines, token_line
from service.cli.runner import fail, run, run_in_transaction

app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)


@app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who or what holds the token.")],
    role: Annotated[tokens.Role, typer.Option(help="duty_officer, leader or admin.")],
) -> None:
    """Create an API token and print it once; only its hash is stored."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> str:
        return await tokens.create_token(session, name=name, role=role, now=dutyd.clock.now())

    typer.echo(run_in_transaction(work))


@app.command("list")
def token_list() -> None:
    """List tokens (names and roles; the tokens themselves are not stored)."""

    async def work(dutyd: Dutyd) -> list[ApiTokenRow]:
        async with dutyd.sessions() as session:
            return await tokens.list_tokens(session)

    echo_lines(token_line(row) for row in run(work))


@app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="Token name.")]) -> None:
    """Revoke a token at once."""

    async def work(dutyd: Dutyd, session: AsyncSession) -> bool:
        return await tokens.revoke_token(session, name=name, now=dutyd.clock.now())

    if not run_in_transaction(work):
        raise fail(f"no active token named {name!r}")
    typer.echo(f"token {name!r} revoked")
