"""Group commit for machine reports: concurrent requests wait on one writer, which stores
everything that arrived while it was committing in the next single transaction. A request
is answered only once its rows are committed (a 2xx means they cannot be lost), yet a
storm costs one commit per batch, not one per request; and one wake-up of the engine per
batch (`on_committed`), whether or not its requests are still waiting."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from service import metrics
from service.intake.tables import MachineReportRow
from service.store.prepared import ManyRowsInsert

log = structlog.get_logger(__name__)
REPORTS = MachineReportRow.__table__
MAX_BATCH_ROWS = 5000
COLUMNS = [column.key for column in REPORTS.c if column.key != "id"]  # what a row holds


class GroupCommit:
    def __init__(
        self, engine: AsyncEngine, on_committed: Callable[[], None] = lambda: None
    ) -> None:
        self.on_committed = on_committed  # once a commit: the engine's wake-up
        # A sender's retry of a request it sent before (same idempotency key) is dropped.
        self._insert = ManyRowsInsert(engine, REPORTS, COLUMNS)
        self._waiting: deque[tuple[list[dict[str, Any]], asyncio.Future[None]]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def store(self, rows: list[dict[str, Any]]) -> None:
        """Return once `rows` are committed; raise if they could not be."""
        if not rows:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        self._ensure_running().set()
        return await done

    def _ensure_running(self) -> asyncio.Event:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._write_forever(self._wake))
        assert self._wake is not None
        return self._wake

    async def _write_forever(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while self._waiting:
                batch, taken = [], 0
                while self._waiting and taken < MAX_BATCH_ROWS:
                    rows, done = self._waiting.popleft()
                    batch.append((rows, done))
                    taken += len(rows)
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[None]]]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        try:
            # Not a session: machine reports are not audited row by row (audit.capture),
            # and the unit of work would only add its cost.
            await self._insert.write(rows)
        except Exception as exc:  # every waiting request is told: none is answered 2xx
            log.exception("intake.commit_failed", rows=len(rows))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        metrics.MACHINE_REPORT_COMMITS.inc()
        self.on_committed()
        for _, done in batch:
            if not done.done():  # a request whose client went away was cancelled
                done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
