"""Many rows in one statement (service.store.bulk), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.store import bulk
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


@pytest.fixture(autouse=True)
def arrays_from_two_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small batches below take the array path on PostgreSQL too."""
    monkeypatch.setattr(bulk, "ARRAYS_FROM_ROWS", 2)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def statements(engine: AsyncEngine) -> list[tuple[str, bool]]:
    """The SQL each write sends to the database, and whether it was an executemany."""
    sent: list[tuple[str, bool]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_c: object, _cur: object, sql: str, _p: object, _ctx: object, many: bool) -> None:
        if not sql.lstrip().upper().startswith(("SELECT", "BEGIN", "COMMIT", "PRAGMA")):
            sent.append((sql, many))

    return sent


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
    statements: list[tuple[str, bool]],
    database_url: str,
) -> None:
    wanted = [item(n) for n in range(1, 1201)]
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, wanted)
        await insert_rows(session, ITEMS, [])  # nothing to write is no statement at all
    [(sql, many)] = statements
    if database_url.startswith("postgresql"):  # one statement of arrays, not 1,200
        assert "unnest" in sql and not many
    got = await stored(sessions)
    assert got == wanted
    assert got[0]["at"].tzinfo is not None and got[0]["at"].utcoffset() == timedelta(0)


async def test_a_single_row_or_a_few_are_a_plain_insert(
    sessions: async_sessionmaker[AsyncSession],
    statements: list[tuple[str, bool]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(7)])
    monkeypatch.setattr(bulk, "ARRAYS_FROM_ROWS", 20)
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(n) for n in range(8, 27)])
    assert await stored(sessions) == [item(n) for n in range(7, 27)]
    assert all("unnest" not in sql for sql, _ in statements)


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


async def test_a_string_too_long_for_its_column_is_never_cut(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """PostgreSQL refuses it, as it does for a single row; SQLite keeps it whole."""
    long = "长" * 40  # the column holds 32
    rows = [{**item(1), "name": long}, item(2)]
    if database_url.startswith("postgresql"):
        with pytest.raises(DBAPIError, match="too long"):
            async with sessions.begin() as session:
                await insert_rows(session, ITEMS, rows)
        assert await stored(sessions) == []
        async with sessions.begin() as session:
            await insert_rows(session, ITEMS, [item(1), item(2)])
        with pytest.raises(DBAPIError, match="too long"):
            async with sessions.begin() as session:
                await update_rows(session, ITEMS, [{"id": 1, "name": long}, {"id": 2, "name": "x"}])
        assert [row["name"] for row in await stored(sessions)] == ["第1条 item", "第2条 item"]
    else:
        async with sessions.begin() as session:
            await insert_rows(session, ITEMS, rows)
        assert (await stored(sessions))[0]["name"] == long


async def test_json_values_keep_their_shape_and_types(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Lists stay lists (one row each), and True is not taken for 1."""
    shapes: list[object] = [[1, 2], {"flag": True}, {"flag": 1}, [], {"flag": 1.5}, "text"]
    rows = [{**item(n), "data": data} for n, data in enumerate(shapes, start=1)]
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, rows)
    got = [row["data"] for row in await stored(sessions)]
    assert got == shapes
    assert [type(d["flag"]) for d in got[1:5] if isinstance(d, dict)] == [bool, int, float]
    same = [{**item(n), "data": {"flag": True}} for n in (7, 8)] + [
        {**item(9), "data": {"flag": 1}}
    ]
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, same)
    flags = [row["data"]["flag"] for row in (await stored(sessions))[-3:]]
    assert flags == [True, True, 1] and type(flags[2]) is int


async def test_the_same_key_twice_in_one_update_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await insert_rows(session, ITEMS, [item(1), item(2)])
    with pytest.raises(ValueError, match="the same id twice"):
        async with sessions.begin() as session:
            await update_rows(session, ITEMS, [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}])
    assert [row["name"] for row in await stored(sessions)] == ["第1条 item", "第2条 item"]
