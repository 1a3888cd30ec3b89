"""Live updates for the console: one poller per process watches the database for any
change an officer must see (a new timeline entry: an incident logged, acknowledged by
SMS, escalated, a report made; a message's state), and wakes every open board. The
database is the source of truth, so a change made by another process or the CLI is
seen as soon as one made here."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from sqlalchemy import func, select

from service.app import Dutyd
from service.incidents.tables import TimelineEntryRow
from service.notify.tables import MessageEventRow, MessageRow

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
LOG_LENGTH = 256
MAX_STREAMS = 6  # per console session: a few tabs and the wall screen


class ChangeFeed:
    """A counter of changes seen, and a condition that waiters are woken on."""

    def __init__(self, dutyd: Dutyd) -> None:
        self.dutyd = dutyd
        self.mark: tuple[int, int] | None = None
        self.changes = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None
        self.streams: dict[int, int] = {}  # open streams per console session
        # The incidents each recent change touched, by change number: a board updates
        # only their rows. A board further behind than this log fetches itself whole.
        self.touched: deque[tuple[int, frozenset[int]]] = deque(maxlen=LOG_LENGTH)

    def touched_since(self, seen: int) -> frozenset[int] | None:
        """The incidents touched by changes after number `seen`; None if the log does not
        reach back that far (the board must be fetched whole)."""
        if seen >= self.changes:
            return frozenset()
        if not self.touched or self.touched[0][0] > seen + 1:
            return None
        return frozenset().union(*(ids for number, ids in self.touched if number > seen))

    def admit(self, session_id: int) -> bool:
        """One more stream for this session, unless it has MAX_STREAMS open already."""
        if self.streams.get(session_id, 0) >= MAX_STREAMS:
            return False
        self.streams[session_id] = self.streams.get(session_id, 0) + 1
        return True

    def release(self, session_id: int) -> None:
        left = self.streams.get(session_id, 1) - 1
        if left > 0:
            self.streams[session_id] = left
        else:
            self.streams.pop(session_id, None)

    async def read_mark(self) -> tuple[int, int]:
        async with self.dutyd.reads() as session:
            timeline = await session.scalar(select(func.max(TimelineEntryRow.id)))
            events = await session.scalar(select(func.max(MessageEventRow.id)))
        return int(timeline or 0), int(events or 0)

    async def touched_between(self, old: tuple[int, int], new: tuple[int, int]) -> frozenset[int]:
        async with self.dutyd.reads() as session:
            on_timeline = await session.scalars(
                select(TimelineEntryRow.incident_id)
                .where(TimelineEntryRow.id > old[0], TimelineEntryRow.id <= new[0])
                .distinct()
            )
            ids = set(on_timeline)
            by_message = await session.scalars(
                select(MessageRow.incident_id)
                .join(MessageEventRow, MessageEventRow.message_id == MessageRow.id)
                .where(MessageEventRow.id > old[1], MessageEventRow.id <= new[1])
                .distinct()
            )
            ids.update(i for i in by_message if i is not None)
        return frozenset(ids)

    async def run(self) -> None:
        while True:
            try:
                mark = await self.read_mark()
            except Exception:  # a database hiccup must not end live updates
                await asyncio.sleep(POLL_SECONDS)
                continue
            if self.mark is None:
                # The first look sets where changes count from: nothing has changed yet
                # (every stream was sent `changed` on connecting and fetched its page).
                self.mark = mark
            elif mark != self.mark:
                touched: frozenset[int] | None
                try:
                    touched = await self.touched_between(self.mark, mark)
                except Exception:  # then the boards fetch themselves whole
                    touched = None
                self.mark = mark
                async with self.changed:
                    self.changes += 1
                    if touched is not None:
                        self.touched.append((self.changes, touched))
                    else:
                        self.touched.clear()
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

    async def updates(self) -> AsyncIterator[tuple[int, int] | None]:
        """After each change from now on, (the change number seen before, the one now);
        None as a keep-alive. The wait is decided under the condition's lock, the yield
        made outside it: a client slow to read must never hold up the poller or the other
        boards."""
        self.ensure_running()
        seen = self.changes
        while True:
            async with self.changed:
                try:
                    await asyncio.wait_for(
                        self.changed.wait_for(lambda seen=seen: self.changes != seen),
                        KEEPALIVE_SECONDS,
                    )
                    step: tuple[int, int] | None = (seen, self.changes)
                    seen = self.changes
                except TimeoutError:
                    step = None
            yield step
