"""What is in force in a process: the roster, plans and rules it works by, replaced whole
when an edit is stored here, a reload is asked for, or another process stored a newer
roster. A part of `Dutyd` (its attributes are the daemon's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.audit.context import Actor, current_actor
from service.audit.settings_record import record_reload, record_settings
from service.clock import Clock
from service.config import Settings
from service.errors import PlanInvalid, RosterInvalid
from service.office.roster_edits import store_roster
from service.plans.loader import PlanSet
from service.roster import store as roster_store
from service.roster.roster import Roster
from service.runtime import ReloadOutcome, Runtime, announce_reload
from service.store.after_commit import after_commit

log = structlog.get_logger(__name__)


class InForce:
    settings: Settings
    clock: Clock
    runtime: Runtime
    reads: async_sessionmaker[AsyncSession]
    last_reload: ReloadOutcome | None
    _plans_to_archive: PlanSet | None
    _rejected_roster_version: int
    _reloads_to_record: list[tuple[Actor, ReloadOutcome, str]]
    sessions: async_sessionmaker[AsyncSession]

    async def store_roster(
        self,
        session: AsyncSession,
        data: Any,
        *,
        actor: str,
        comment: str,
        source: str,
        now: datetime | None = None,
    ) -> int:
        """Check an edit of the roster in force against plans and rules and store it as a
        new version (`office.roster_edits`); it is put in force here once `session`'s
        transaction commits, and not at all if it fails."""
        fresh = await store_roster(
            session,
            self.runtime,
            data,
            actor=actor,
            comment=comment,
            now=now or self.clock.now(),
            plans_dir=self.settings.plans_dir,
            rules_file=self.settings.duty_rules_file,
            source=source,
        )
        after_commit(session, lambda: self._put_in_force(fresh))
        return fresh.roster_version

    def _build(self, roster: Roster, version: int) -> Runtime:
        return Runtime.build(
            roster,
            plans_dir=self.settings.plans_dir,
            rules_file=self.settings.duty_rules_file,
            roster_version=version,
        )

    def _put_in_force(self, fresh: Runtime) -> None:
        # A newer version may have been picked up meanwhile (refresh_roster): keep it.
        if fresh.roster_version >= self.runtime.roster_version:
            self.runtime = fresh

    def reload_plans(self) -> ReloadOutcome:
        """Reload plans and duty rules (SIGHUP, admin API); a bad set is refused whole."""
        now = self.clock.now()
        before = self.runtime.plans.digest
        try:
            fresh = self._build(self.runtime.roster, self.runtime.roster_version)
        except (PlanInvalid, RosterInvalid) as exc:
            outcome = ReloadOutcome(now, False, self.runtime.plans.digest, list(exc.problems))
        else:
            self.runtime = fresh
            self._plans_to_archive = fresh.plans
            outcome = ReloadOutcome(now, True, fresh.plans.digest)
        self.last_reload = outcome
        announce_reload(outcome, len(self.runtime.plans.plans))
        # Who asked (the admin API's caller, else the signal), put on record at the next tick.
        actor = current_actor() or Actor("SIGHUP", "system", action="reload", now=self.clock.now)
        self._reloads_to_record.append((actor, outcome, before))
        return outcome

    async def record_start(self) -> None:
        """The settings this daemon starts with, on the audit record if they changed."""
        actor = Actor("dutyd serve", "system", action="start", now=self.clock.now)
        async with self.sessions.begin() as session:
            await record_settings(session, self.settings, actor)

    async def record_reloads(self) -> None:
        """The reloads since the last tick, on the audit record."""
        if not self._reloads_to_record:
            return
        pending, self._reloads_to_record = self._reloads_to_record, []
        async with self.sessions.begin() as session:
            for actor, outcome, before in pending:
                record_reload(
                    session,
                    actor,
                    applied=outcome.applied,
                    before=before,
                    after=outcome.plans_version,
                    problems=outcome.problems,
                )

    async def refresh_roster(self) -> None:
        """Pick up a roster version stored by another process (API, CLI import)."""
        async with self.reads() as session:
            newest = await roster_store.newest_version_id(session)
            if newest <= self.runtime.roster_version:
                return
            roster = await roster_store.load_current(session)
        assert roster is not None
        try:
            fresh = self._build(roster, newest)
        except (PlanInvalid, RosterInvalid) as exc:
            # Keep the roster in force and its version number, so edits made here are
            # refused rather than built on a roster that is no longer the newest.
            if self._rejected_roster_version != newest:
                log.error("roster.refresh_rejected", version=newest, problems=exc.problems)
                self._rejected_roster_version = newest
            return
        self.runtime = fresh
        log.info("roster.refreshed", version=newest)
