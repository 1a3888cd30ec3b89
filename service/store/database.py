"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from service.store import sqlite_driver

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def create_engine(url: str, *, reads: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. On SQLite, `reads=True` gives one for read-only sessions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    in_memory = not parsed.database or parsed.database == ":memory:"
    if not reads and not in_memory:
        # SQLite has one writer at a time. With one connection for all of this process's
        # writes, writers queue in order for it (an asyncio wait) instead of polling the
        # file lock in SQLite's busy handler, which sleeps up to 100 ms a try.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    database_args, connect_args = SQLiteDialect_aiosqlite().create_connect_args(parsed)
    connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_SECONDS
    if not reads and not in_memory:  # and between processes, in turn at a lock file
        connect_args["writer_lock"] = f"{parsed.database}-writer"

    async def connect() -> sqlite_driver.OneHopConnection:
        return await sqlite_driver.connect(*database_args, **connect_args)

    engine = create_async_engine(url, async_creator=connect, **kwargs)
    # The daemon and the CLI write to the same file. A deferred SQLite transaction that
    # reads and then writes fails at once if another writer got in between; taking the
    # write lock at BEGIN makes writers queue behind the busy timeout instead. Read-only
    # sessions begin deferred, so in WAL mode they read while a writer writes.
    begin = "BEGIN" if reads else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine for read-only sessions: on SQLite a second pool that begins deferred."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return engine  # an in-memory database exists only on its own connection
    return create_engine(engine.url.render_as_string(hide_password=False), reads=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(bind: AsyncEngine | AsyncSession | Session) -> bool:
    """Whether `bind`, an engine or a session's, is PostgreSQL."""
    engine = bind.get_bind() if isinstance(bind, AsyncSession | Session) else bind
    return engine.dialect.name == "postgresql"
