"""dutyd's connections to an SQLite file take turns at its one writer through a lock file:
held exactly while a write transaction is open, however it ends, and a second process's
writer goes once the first is done."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store import sqlite_driver
from service.store.database import create_engine
from service.store.sqlite_writer_lock import WriterLock


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, Path]]:
    path = tmp_path / "dutyd.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, said TEXT)"))
    yield engine, Path(f"{path}-writer")
    await engine.dispose()


@contextmanager
def held_elsewhere(lock_file: Path) -> Iterator[bool]:
    """Whether another process could take the lock now (taken and let go at once)."""
    fd = os.open(lock_file, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield True
            return
        fcntl.flock(fd, fcntl.LOCK_UN)
        yield False
    finally:
        os.close(fd)


def is_held(lock_file: Path) -> bool:
    with held_elsewhere(lock_file) as held:
        return held


async def test_held_only_while_a_write_transaction_is_open(
    database: tuple[AsyncEngine, Path],
) -> None:
    engine, lock_file = database
    assert lock_file.exists() and not is_held(lock_file)
    async with engine.begin() as connection:
        assert is_held(lock_file)  # from BEGIN IMMEDIATE on
        await connection.execute(text("INSERT INTO notes (said) VALUES ('青山水库')"))
        assert is_held(lock_file)
    assert not is_held(lock_file)  # committed

    connection = await engine.connect()
    await connection.begin()
    await connection.execute(text("INSERT INTO notes (said) VALUES ('rolled back')"))
    await connection.rollback()
    assert not is_held(lock_file)
    await connection.close()

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (id, said) VALUES (1, 'twice')"))
    assert not is_held(lock_file)  # the failed transaction rolled back
    async with engine.connect() as connection:
        said = (await connection.execute(text("SELECT said FROM notes"))).scalars().all()
    assert said == ["青山水库"]


async def test_another_process_s_writer_goes_once_the_first_is_done(
    database: tuple[AsyncEngine, Path], tmp_path: Path
) -> None:
    first, lock_file = database
    # Another engine: its own connection and its own hold on the lock, as another process.
    second = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'dutyd.db'}")
    try:
        writing = await first.connect()
        await writing.begin()
        await writing.execute(text("INSERT INTO notes (said) VALUES ('first')"))

        async def write_second() -> None:
            async with second.begin() as connection:
                await connection.execute(text("INSERT INTO notes (said) VALUES ('second')"))

        waiting = asyncio.create_task(write_second())
        for _ in range(20):
            await asyncio.sleep(0)  # let it start and find the lock taken
        assert not waiting.done()
        await writing.commit()
        await writing.close()
        await asyncio.wait_for(waiting, timeout=10)
        assert not is_held(lock_file)
        async with first.connect() as connection:
            said = (await connection.execute(text("SELECT said FROM notes"))).scalars().all()
        assert said == ["first", "second"]
    finally:
        await second.dispose()


def test_a_lock_never_let_go_is_said(tmp_path: Path) -> None:
    lock_file = tmp_path / "dutyd.db-writer"
    holder = WriterLock(str(lock_file), timeout_seconds=30)
    holder.acquire()
    waiter = WriterLock(str(lock_file), timeout_seconds=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked: another dutyd"):
            waiter.acquire()
        assert not waiter.held
        holder.release()
        waiter.acquire()
        assert waiter.held and is_held(lock_file)
    finally:
        holder.close()
        waiter.close()
    assert not is_held(lock_file)


async def test_a_connection_given_up_lets_the_lock_go(tmp_path: Path) -> None:
    """SQLAlchemy ends a connection it gave up on (a cancelled task, or one collected with
    its transaction open) by stopping its thread, not closing it: the lock goes too."""
    lock_file = tmp_path / "dutyd.db-writer"
    connection = await sqlite_driver.connect(
        str(tmp_path / "dutyd.db"), writer_lock=str(lock_file), isolation_level=None
    )
    async with connection.cursor() as cursor:
        await cursor.execute("BEGIN IMMEDIATE")
    assert is_held(lock_file)
    stopped = connection.stop()
    assert stopped is not None
    await stopped
    assert not is_held(lock_file)
