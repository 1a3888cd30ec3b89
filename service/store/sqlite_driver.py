"""aiosqlite with one hand-off to its thread a statement, not four.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes it, each an
await that queues a call on aiosqlite's thread and wakes the event loop for its answer:
about 0.15 ms apiece here, most of a simple statement's cost. This connection runs all
of a statement on its thread in one call (rows fetched, the sqlite3 cursor closed) and
hands SQLAlchemy a cursor holding the outcome. Only what SQLAlchemy's adapter uses of an
aiosqlite cursor is offered; every result is fetched whole, as that adapter does for all
but server-side cursors, which dutyd never asks for. A connection that writes takes the
turn of dutyd's processes at the file (`store.sqlite_writer_lock`) as it begins a write
transaction and gives it up as the transaction ends.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from service.store.sqlite_writer_lock import WriterLock

Outcome = tuple[Any, int, int | None, list[Any]]


def _run_statement(
    connection: sqlite3.Connection,
    sql: str,
    parameters: Any,
    many: bool,
    lock: WriterLock | None,
) -> Outcome:
    if lock is not None and sql.startswith("BEGIN IMMEDIATE"):
        lock.acquire()
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()
        if lock is not None:
            lock.release_unless_writing(connection)


class OneHopCursor:
    """A statement's outcome, read by SQLAlchemy as it reads an aiosqlite cursor."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._rows = []

    async def _run(self, sql: str, parameters: Any, many: bool) -> OneHopCursor:
        outcome: Outcome = await self._connection._execute(
            _run_statement,
            self._connection._conn,
            sql,
            parameters,
            many,
            self._connection.writer_lock,
        )
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def execute(self, sql: str, parameters: Any = None) -> OneHopCursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneHopCursor:
        return await self._run(sql, parameters, many=True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


def _write_many(
    connection: sqlite3.Connection,
    sql: str,
    parameters: Sequence[Any],
    lock: WriterLock | None,
) -> None:
    if lock is not None:
        lock.acquire()
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, parameters)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # SQLite has ended it itself after some errors
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the original error is the one to raise
        raise
    finally:
        if lock is not None:
            lock.release_unless_writing(connection)


def _end(connection: sqlite3.Connection, how: str, lock: WriterLock | None) -> None:
    try:
        getattr(connection, how)()
    finally:
        if lock is not None:
            lock.release_unless_writing(connection)


class OneHopConnection(aiosqlite.Connection):
    writer_lock: WriterLock | None = None

    def cursor(self) -> OneHopCursor:  # type: ignore[override]  # no hand-off to make one
        return OneHopCursor(self)

    async def commit(self) -> None:
        await self._execute(_end, self._conn, "commit", self.writer_lock)

    async def rollback(self) -> None:
        await self._execute(_end, self._conn, "rollback", self.writer_lock)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.writer_lock is not None:
                self.writer_lock.close()

    def stop(self) -> asyncio.Future[Any] | None:
        """Also how SQLAlchemy ends a connection it gave up on (cancelled, or collected
        with a transaction open): the lock goes with it, or this process's next writer
        would wait for a lock its own lost connection still held."""
        if self.writer_lock is not None:
            self._tx.put_nowait((None, self.writer_lock.close))  # on the thread, in turn
        return super().stop()

    async def write_many(self, sql: str, parameters: Sequence[Any]) -> None:
        """One transaction of one statement executed for each parameter set, begun (taking
        the write lock), executed and committed in a single hand-off to the thread."""
        await self._execute(_write_many, self._conn, sql, parameters, self.writer_lock)


async def connect(
    database: str, *, writer_lock: str | None = None, **kwargs: Any
) -> OneHopConnection:
    """Open `database` as aiosqlite.connect would (sqlite3.connect's arguments); with
    `writer_lock`, the path of the lock file its write transactions take first."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = OneHopConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does: a forgotten one never hangs exit
    if writer_lock is not None:
        connection.writer_lock = WriterLock(writer_lock, float(kwargs.get("timeout", 5.0)))
    return await connection
