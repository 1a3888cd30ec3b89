"""When the engine runs in a process: a full pass when woken (at once, or at a due time),
and for machine reports just committed a pass over the reports alone, at most one every
INTAKE_PASS_SECONDS. A storm's group commits would otherwise each start a full pass (some
fifteen transactions over steps, duties, warnings, assignments, spot-checks and the
outbox), and on SQLite those passes, not the reports, would hold the one writer. A reports
pass that opens, raises or resolves an incident goes on at once as a full pass, so that
the new incident's first pages are not held back. A part of `Dutyd`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service import metrics
from service.clock import Clock
from service.flows.engine import Engine, RunResult

log = structlog.get_logger(__name__)

WAKE_JOB_ID = "wake"
# Wake-ups never wait in APScheduler's queue or get skipped by it: `_woken` coalesces them.
WAKE_INSTANCES = 1000
INTAKE_PASS_SECONDS = 0.05
# Work that came due while a pass ran (a digest's gathering half second, on a loaded
# machine) gets a pass this soon, not at the safety tick; not at once, which would spin
# on work another process holds.
REPASS_AFTER = timedelta(seconds=0.1)


class EnginePasses:
    clock: Clock
    engine: Engine
    scheduler: AsyncIOScheduler | None

    def init_passes(self) -> None:
        self._pass_running = self._pass_again = self._reports_again = self._stopping = False
        self._pass_began = 0.0  # time.monotonic() when the last pass began
        self._reports_wake: asyncio.TimerHandle | None = None
        self._reports_task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set while no engine pass runs
        self._idle.set()

    tick: Callable[[], Awaitable[RunResult]]  # the daemon's full pass

    def wake_for(self, next_due: datetime | None, began: datetime) -> None:
        """After a pass that began at `began`: a wake-up at the next due time, or soon if
        it came due while the pass ran. Due since before the pass and still there, it is
        not to be worked now (another process holds it): the safety tick looks again."""
        if next_due is None:
            return
        now = self.clock.now()
        if next_due > now:
            self.wake(next_due)
        elif next_due > began:
            self.wake(now + REPASS_AFTER)

    def wake(self, at: datetime | None = None) -> None:
        """Ask for a full engine pass at `at` (engine clock time), or at once."""
        if self.scheduler is None:
            return
        delay = max(timedelta(0), (at - self.clock.now()) if at else timedelta(0))
        if self._pass_running and not delay:
            # The running pass goes round once more; a job here could be replaced by the
            # pass's own wake-up for its next due time before it ever ran.
            self._pass_again = True
            return
        self.scheduler.add_job(
            self._woken,
            "date",
            run_date=datetime.now(UTC) + delay,
            id=WAKE_JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            max_instances=WAKE_INSTANCES,
        )

    def wake_for_reports(self) -> None:
        """Machine reports were committed: a reports pass at once if no pass began within
        INTAKE_PASS_SECONDS, else as soon as that much has passed since one did."""
        if self.scheduler is None or self._reports_wake is not None:
            return  # one is coming
        wait = self._pass_began + INTAKE_PASS_SECONDS - time.monotonic()
        later = asyncio.get_running_loop().call_later
        self._reports_wake = later(max(wait, 0.0), self._reports_due)

    def _reports_due(self) -> None:
        self._reports_wake = None
        if self._stopping:
            return
        if self._pass_running:
            self._reports_again = True  # the running pass works them before it ends
            return
        self._reports_task = asyncio.create_task(self._woken(reports_only=True))

    async def _woken(self, reports_only: bool = False) -> None:
        """Run engine passes until no wake-up came during the last one.

        A wake-up during a pass is never dropped: it makes the running pass go round once
        more, instead of queueing a pass per wake-up or leaving new work to the safety tick.
        """
        if self._pass_running:
            if reports_only:
                self._reports_again = True
            else:
                self._pass_again = True
            return
        self._pass_running = True
        self._idle.clear()
        try:
            full = not reports_only
            while not self._stopping:
                self._pass_again = self._reports_again = False
                self._pass_began = time.monotonic()
                more_reports = False
                if full:
                    await self.tick()
                else:
                    changed, more_reports = await self.reports_pass()
                    if changed:
                        full = True  # at once: the new incident's pages
                        continue
                # A full pass asked for meanwhile goes first; a backlog of reports next.
                full = self._pass_again
                if not (self._pass_again or self._reports_again or more_reports):
                    return
        finally:
            self._pass_running = False
            self._idle.set()

    async def reports_pass(self) -> tuple[bool, bool]:
        """A batch of the machine reports waiting: whether it changed an incident (a full
        pass must follow: its pages, cancellations, new steps), and whether more wait."""
        metrics.ENGINE_REPORTS_PASSES.inc()
        try:
            work, more = await self.engine.run_reports()
        except Exception:
            metrics.ENGINE_ERRORS.inc()
            log.exception("engine.reports_pass_failed")
            return True, False  # the full pass tries them again, with everything else
        return work.changed_incidents, more
