"""Live updates for the console: one poller per process watches the database for any
change an officer must see (a new timeline entry: an incident logged, acknowledged by
SMS, escalated, a report made; a message's state), and wakes every open board. The
database is the source of truth, so a change made by another process or the CLI is
seen as soon as one made here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sqlalchemy import func, select

from service.app import Dutyd
from service.incidents.tables import TimelineEntryRow
from service.notify.tables import MessageEventRow

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


class ChangeFeed:
    """A counter of changes seen, and a condition that waiters are woken on."""

    def __init__(self, dutyd: Dutyd) -> None:
        self.dutyd = dutyd
        self.mark: tuple[int, int] | None = None
        self.changes = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def read_mark(self) -> tuple[int, int]:
        async with self.dutyd.reads() as session:
            timeline = await session.scalar(select(func.max(TimelineEntryRow.id)))
            events = await session.scalar(select(func.max(MessageEventRow.id)))
        return int(timeline or 0), int(events or 0)

    async def run(self) -> None:
        while True:
            try:
                mark = await self.read_mark()
            except Exception:
                mark = self.mark or (0, 0)
            if mark != self.mark:
                self.mark = mark
                async with self.changed:
                    self.changes += 1
                    self.changed.notify_all()
            await asyncio.sleep(POLL_SECONDS)

    def ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def updates(self) -> AsyncIterator[bool]:
        """Yields True after each change from now on, False as a keep-alive."""
        self.ensure_running()
        seen = self.changes
        while True:
            async with self.changed:
                try:
                    await asyncio.wait_for(
                        self.changed.wait_for(lambda seen=seen: self.changes != seen),
                        KEEPALIVE_SECONDS,
                    )
                except TimeoutError:
                    yield False
                    continue
                seen = self.changes
            yield True
