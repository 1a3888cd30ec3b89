"""An INSERT of many rows in one transaction, for a writer that commits hundreds of times
a second (the intake's group commit). On SQLite the statement is compiled once, each row
turned into the driver's parameters by the columns' own types (JSON, UTC times), and the
transaction begun, executed and committed in one hand-off to aiosqlite's thread
(`sqlite_driver.OneHopConnection.write_many`) instead of four, without the executions'
per-call work in SQLAlchemy. On PostgreSQL it is an ordinary Core executemany."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.sqlite_driver import OneHopConnection

Rows = Sequence[dict[str, Any]]


class ManyRowsInsert:
    """`INSERT … ON CONFLICT DO NOTHING` of rows with `columns`, into `table`."""

    def __init__(self, engine: AsyncEngine, table: Table, columns: Sequence[str]) -> None:
        self.engine = engine
        dialect = engine.dialect
        module = postgresql if dialect.name == "postgresql" else sqlite
        self.statement = module.insert(table).on_conflict_do_nothing()
        compiled = self.statement.compile(dialect=dialect, column_keys=list(columns))
        self.sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup or [])
        self.processors: list[Callable[[Any], Any] | None] = [
            # The type as this dialect stores it (SQLite: times as SQLAlchemy's text).
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        self.one_hop = dialect.name == "sqlite" and not compiled.binds.keys() - set(columns)

    def parameters(self, rows: Rows) -> list[tuple[Any, ...]]:
        steps = list(zip(self.names, self.processors, strict=True))
        return [
            tuple(process(row[name]) if process else row[name] for name, process in steps)
            for row in rows
        ]

    async def write(self, rows: Rows) -> None:
        """Insert `rows` (dicts with exactly `columns`) and commit; raise if it failed."""
        if not self.one_hop:
            async with self.engine.begin() as connection:
                await connection.execute(self.statement, list(rows))
            return
        async with self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, OneHopConnection)
            try:
                await driver.write_many(self.sql, self.parameters(rows))
            except sqlite3.Error as exc:  # as SQLAlchemy would have raised it
                raise DBAPIError.instance(self.sql, None, exc, sqlite3.Error) from exc
