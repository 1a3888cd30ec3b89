"""Bring a database to the newest schema with Alembic, on dutyd's own async engine.

Revisions are numbered files (`versions/0001_….py`, `0002_…`), each with the number as
its revision id, so the newest one is known without importing Alembic: a database
already at it is left alone in a millisecond, which keeps the CLI quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

STORE = Path(__file__).parent
ALEMBIC_INI = STORE / "alembic.ini"
VERSIONS = STORE / "migrations" / "versions"


def head_revision() -> str:
    return max(path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py"))


def alembic_config() -> Config:
    from alembic.config import Config

    return Config(str(ALEMBIC_INI))


async def current_revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return None  # a new, empty database


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    if revision == "head" and await current_revision(engine) == head_revision():
        return

    def _run(connection: Connection) -> None:
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)


async def autogenerate(engine: AsyncEngine, message: str) -> None:
    """Developer helper: write a new revision from the difference to the models.

    Rename the file it writes to the next number (`0003_….py`) and set `revision` to
    that number.
    """

    def _run(connection: Connection) -> None:
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)

    async with engine.begin() as connection:
        await connection.run_sync(_run)
