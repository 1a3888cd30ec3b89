"""The outbox's gate for public warnings: a warning lifted, replaced or expired stops at
once, even for messages already claimed.

Two guards make "nothing of it is handed over after the lift commits" hold:
- in one process, a shared/exclusive lock: the outbox holds it shared while it hands a
  batch over, the lift takes it exclusive around its transaction;
- across processes on PostgreSQL, the warning rows themselves: the outbox reads them
  `FOR SHARE` while it hands over, the lift locks them `FOR UPDATE`.
(On SQLite another process, such as the CLI, is not held off by a row lock; its lift is
seen at the next batch.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.warnings.models import Stage
from service.warnings.tables import WarningRow


class SharedExclusive:
    """Many holders share it, or one holds it alone; one waiting alone goes first."""

    def __init__(self) -> None:
        self._alone = asyncio.Lock()
        self._shared = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._alone:  # not while one holds it alone, nor ahead of one waiting
            self._shared += 1
            self._idle.clear()
        try:
            yield
        finally:
            self._shared -= 1
            if not self._shared:
                self._idle.set()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._alone:
            await self._idle.wait()
            yield


class WarningGate:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        reads: async_sessionmaker[AsyncSession],
        postgres: bool,
    ) -> None:
        self.sessions = sessions
        self.reads = reads
        self.postgres = postgres
        self.lock = SharedExclusive()

    async def stopped(self, session: AsyncSession) -> set[int]:
        """Warnings stopped whose waiting messages are still being withdrawn."""
        query = select(WarningRow.id).where(WarningRow.fanout_state == "stopping")
        return set(await session.scalars(query))

    def holding(self, broadcast_ids: set[int]) -> AbstractAsyncContextManager[set[int]]:
        return self._holding(broadcast_ids)

    @asynccontextmanager
    async def _holding(self, broadcast_ids: set[int]) -> AsyncIterator[set[int]]:
        query = select(WarningRow.id, WarningRow.stage).where(
            WarningRow.id.in_(sorted(broadcast_ids))
        )
        async with self.lock.shared():
            if self.postgres:
                async with self.sessions.begin() as session:
                    rows = await session.execute(query.with_for_update(read=True))
                    yield _stopped(broadcast_ids, {i: stage for i, stage in rows})
                return
            # SQLite: no row locks, and the one writing connection is the outbox's own
            # while it records; a reading session asks.
            async with self.reads() as session:
                rows = await session.execute(query)
                stages = {i: stage for i, stage in rows}
            yield _stopped(broadcast_ids, stages)


def _stopped(broadcast_ids: set[int], stages: dict[int, str]) -> set[int]:
    return {i for i in broadcast_ids if stages.get(i) != Stage.published}
