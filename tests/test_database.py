"""Sessions on SQLite: reads do not queue behind a writer, writers queue in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from service.clock import FrozenClock
from service.incidents.tables import IncidentRow
from tests.engine_helpers import report, start_dutyd


async def test_reads_go_on_while_a_write_transaction_is_open(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        await report(dutyd)
        async with dutyd.sessions.begin() as writer:
            await writer.execute(select(IncidentRow).with_for_update())
            writer.add(IncidentRow(**{**_columns(await writer.get(IncidentRow, 1)), "id": None}))
            await writer.flush()
            async with asyncio.timeout(5):  # a read waiting for the write lock would hang
                async with dutyd.reads() as reader:
                    seen = await reader.scalar(select(func.count()).select_from(IncidentRow))
            assert seen == 1  # the uncommitted second incident is not visible
    finally:
        await dutyd.stop()


async def test_concurrent_writers_in_one_process_all_commit(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        async with asyncio.timeout(60):
            ids = await asyncio.gather(*(report(dutyd) for _ in range(20)))
        assert len(set(ids)) == 20
    finally:
        await dutyd.stop()


def _columns(row: IncidentRow | None) -> dict[str, object]:
    assert row is not None
    return {c.key: getattr(row, c.key) for c in IncidentRow.__table__.columns}
