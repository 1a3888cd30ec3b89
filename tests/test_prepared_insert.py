"""Many rows in one transaction (service.store.prepared): on SQLite in one hand-off to the
driver's thread with the columns' own conversions, on PostgreSQL through Core; either way
the rows read back as SQLAlchemy wrote them, a conflict is skipped, and a failure stores
nothing and is raised as SQLAlchemy raises it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.base import UTCDateTime
from service.store.database import create_engine
from service.store.prepared import ManyRowsInsert

METADATA = MetaData()
ITEMS = Table(
    "prepared_items",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("name", String(32), nullable=False),
    Column("key", String(32)),
    Column("data", JSON, nullable=False),
    UniqueConstraint("name", "key"),
)
COLUMNS = ["at", "name", "key", "data"]
AT = datetime(2026, 7, 15, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.drop_all)
        await connection.run_sync(METADATA.create_all)
    yield engine
    await engine.dispose()


async def stored(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        query = select(ITEMS.c.at, ITEMS.c.name, ITEMS.c.key, ITEMS.c.data).order_by(ITEMS.c.id)
        return [tuple(row) for row in await connection.execute(query)]


async def test_rows_read_back_as_written(engine: AsyncEngine) -> None:
    insert = ManyRowsInsert(engine, ITEMS, COLUMNS)
    assert insert.one_hop == (engine.dialect.name == "sqlite")
    rows = [
        {"at": AT, "name": "站点S1", "key": "a", "data": {"水位": 1.5, "list": [1, None]}},
        {"at": AT + timedelta(seconds=1), "name": "S2", "key": None, "data": {}},
    ]
    await insert.write(rows)
    assert await stored(engine) == [
        (AT.astimezone(UTC), "站点S1", "a", {"水位": 1.5, "list": [1, None]}),
        (AT.astimezone(UTC) + timedelta(seconds=1), "S2", None, {}),
    ]
    # A retry of the same row is skipped; the rest of the batch is stored.
    await insert.write([rows[0], {**rows[0], "key": "b"}])
    assert [row[2] for row in await stored(engine)] == ["a", None, "b"]
    # An UTC time is compared where it is stored: the one written by Core finds it.
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(ITEMS).where(ITEMS.c.at == AT)
        )
    assert found == 2  # "a" and "b"


async def test_a_failed_batch_stores_nothing(engine: AsyncEngine) -> None:
    insert = ManyRowsInsert(engine, ITEMS, COLUMNS)
    good = {"at": AT, "name": "S1", "key": "x", "data": {}}
    with pytest.raises(IntegrityError):
        await insert.write([good, {**good, "key": "y", "name": None}])
    assert await stored(engine) == []
    await insert.write([good])  # the connection is usable afterwards
    assert len(await stored(engine)) == 1


async def test_whole_seconds_are_stored_as_core_stores_them(engine: AsyncEngine) -> None:
    """A time with no fraction is the same text either way (SQLite compares text)."""
    whole = AT.replace(microsecond=0)
    await ManyRowsInsert(engine, ITEMS, COLUMNS).write(
        [{"at": whole, "name": "S1", "key": "p", "data": {}}]
    )
    async with engine.begin() as connection:
        row = {"at": whole, "name": "S1", "key": "c", "data": {}}
        await connection.execute(ITEMS.insert(), row)
        found = await connection.scalar(
            select(func.count()).select_from(ITEMS).where(ITEMS.c.at == whole)
        )
        later = await connection.scalar(
            select(func.count()).select_from(ITEMS).where(ITEMS.c.at > whole)
        )
    assert (found, later) == (2, 0)
