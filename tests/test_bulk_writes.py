"""Many rows in one statement (service.store.bulk), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.store.base import UTCDateTime
from service.store.bulk import among, insert_rows, update_rows
from service.store.database import create_engine

METADATA = MetaData()
ITEMS = Table(
    "bulk_items",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("name", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("count", Integer),
)
AT = datetime(2026, 7, 15, 10, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def item(n: int) -> dict[str, object]:
    return {
        "id": n,
        "at": AT + timedelta(minutes=n),
        "name": f"第{n}条 item",
        "data": {"message_id": n, "note": "中文", "nested": [n, None]},
        "count": None if n % 2 else n,
    }


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, object]]:
    async with sessions() as session:
        rows = await session.execute(select(ITEMS).order_by(ITEMS.c.id))
        return [dict(row._mapping) for row in rows]


async def test_rows_go_in_and_come_back_unchanged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    wanted = [item(n) for n in range(1, 1201)]
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, wanted[:1200])
        await insert_rows(session, ITEMS, [])  # nothing to write is no statement at all
    got = await stored(sessions)
    assert got == wanted
    assert got[0]["at"].tzinfo is not None and got[0]["at"].utcoffset() == timedelta(0)


async def test_a_single_row_is_a_plain_insert(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(7)])
    assert await stored(sessions) == [item(7)]


async def test_update_sets_each_rows_values_and_the_shared_ones_where_allowed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(n) for n in range(1, 6)])
    async with sessions.begin() as session:
        await update_rows(
            session,
            ITEMS,
            [{"id": n, "name": f"renamed {n}"} for n in (1, 2, 3, 9)],  # 9 does not exist
            same={"count": 42, "at": datetime(2026, 1, 1, tzinfo=UTC)},
            where=[ITEMS.c.id != 2],
        )
    got = {row["id"]: row for row in await stored(sessions)}
    assert [got[n]["name"] for n in range(1, 6)] == [
        "renamed 1",
        "第2条 item",  # excluded by `where`: untouched
        "renamed 3",
        "第4条 item",
        "第5条 item",
    ]
    assert [got[n]["count"] for n in range(1, 6)] == [42, 2, 42, 4, None]
    assert got[3]["at"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert got[4]["at"] == item(4)["at"]
    assert len(got) == 5


async def test_among_matches_any_number_of_values_and_none(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(n) for n in range(1, 3001)])
    async with sessions() as session:
        for wanted in ([], [5], list(range(2, 3001, 2)), [1, 1, 4000]):
            found = await session.scalars(
                select(ITEMS.c.id).where(among(session, ITEMS.c.id, wanted)).order_by(ITEMS.c.id)
            )
            assert list(found) == sorted({n for n in wanted if n <= 3000})
        names = await session.scalars(
            select(ITEMS.c.id).where(among(session, ITEMS.c.name, {"第3条 item", "nobody"}))
        )
        assert list(names) == [3]


async def test_columns_the_same_in_every_row_are_written_to_each(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Sent once instead of as an array on PostgreSQL; every row still gets them."""
    rows = [{**item(n), "at": AT, "data": {"same": True}, "count": None} for n in range(1, 4)]
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, rows)
    async with sessions.begin() as session:
        await update_rows(session, ITEMS, [{"id": n, "count": 5} for n in (1, 3)])
    assert await stored(sessions) == [
        {**rows[0], "count": 5},
        rows[1],
        {**rows[2], "count": 5},
    ]
