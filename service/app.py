"""Wiring and lifecycle: settings, database, runtime, transports, engine and scheduler."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service import metrics
from service.audit import chain as audit_chain
from service.audit.capture import install_audit
from service.audit.context import Actor
from service.auth.sessions import forget_old_logins
from service.clock import Clock, SystemClock
from service.config import Settings
from service.flows.delivery import TimelineObserver
from service.flows.engine import Engine, RunResult
from service.flows.warning_relay_poll import RelayPoller
from service.in_force import InForce
from service.intake.mail_sources import start_mailboxes
from service.intake.pace import SourcePace
from service.intake.rules import IntakeRules, load_intake_rules
from service.intake.writer import GroupCommit
from service.notify.ack_links import AckLinks
from service.notify.outbox import DeliveryPolicy, Outbox
from service.notify.providers import announce, build_transports
from service.notify.transport import Transports
from service.office import jobs as office_jobs
from service.passes import WAKE_INSTANCES, EnginePasses
from service.plans.archive import remember_plan_set
from service.plans.loader import PlanSet
from service.process import default_worker_name
from service.roster import store as roster_store
from service.roster.roster import Roster
from service.runtime import (
    ReloadOutcome,
    Runtime,
    announce_started_on_last_good,
    start_in_force,
)
from service.spotchecks.service import plan_checks, rules_from_settings
from service.store.database import is_postgres, read_engine, session_factory
from service.store.presence import OpenedDatabase, commit_problem, open_database
from service.warnings.gate import WarningGate
from service.warnings.setup import load_warning_setup
from service.warnings.workflow import WarningRules

log = structlog.get_logger(__name__)


class Dutyd(InForce, EnginePasses):
    """One dutyd process. `start()` connects and migrates; `run_scheduler()` begins work."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transports: Transports | None = None,
    ) -> None:
        install_audit()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.worker = settings.worker_name or default_worker_name()
        self._given_transports = transports
        self.db: AsyncEngine | None = None
        self.read_db: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession]
        # Sessions that only read: on SQLite they do not queue behind writers.
        self.reads: async_sessionmaker[AsyncSession]
        self.runtime: Runtime  # what is in force; replaced whole, never changed in place
        self.last_reload: ReloadOutcome | None = None
        self.warning_rules = WarningRules()
        self.cap_signing: tuple[bytes, bytes] | None = None
        self.intake_rules = IntakeRules()
        self.intake_pace = SourcePace()
        self.intake_writer: GroupCommit
        self._plans_to_archive: PlanSet | None = None  # reloaded; archived on the next tick
        self._reloads_to_record: list[tuple[Actor, ReloadOutcome, str]] = []
        self.transports: Transports
        self.engine: Engine
        self.scheduler: AsyncIOScheduler | None = None
        self.opened: OpenedDatabase | None = None
        self._rejected_roster_version = 0
        self.init_passes()

    async def open_database(self, *, create: bool = False) -> tuple[Roster, int]:
        """Connect, migrate, read the roster in force (seeding it); a database known to
        have existed and now missing is refused unless `create` (`store.presence`)."""
        self.opened = await open_database(
            self.settings.effective_database_url,
            self.settings.data_dir,
            now=self.clock.now(),
            create=create,
        )
        self.db = self.opened.engine
        self.sessions = session_factory(self.db)
        self.read_db = read_engine(self.db)
        self.reads = session_factory(self.read_db)
        async with self.sessions.begin() as session:
            return await roster_store.load_or_seed(
                session, self.settings.roster_file, self.clock.now()
            )

    async def open_store(self) -> None:
        """Open the database, then check plans and duty rules against the roster."""
        roster, version = await self.open_database()
        setup = load_warning_setup(self.settings)
        self.warning_rules, self.cap_signing = setup.rules, setup.signing
        self.intake_rules = load_intake_rules(self.settings.intake_file)
        self.intake_writer = GroupCommit(self.db, on_committed=self.wake_for_reports)
        async with self.sessions.begin() as session:
            self.runtime, problems = await start_in_force(
                session,
                roster,
                roster_version=version,
                plans_dir=self.settings.plans_dir,
                rules_file=self.settings.duty_rules_file,
                now=self.clock.now(),
            )
        if problems:
            self.last_reload = ReloadOutcome(
                self.clock.now(), False, self.runtime.plans.digest, problems
            )
            announce_started_on_last_good(self.last_reload)
        metrics.PLANS_LOADED.set(len(self.runtime.plans.plans))

    async def start(self) -> None:
        """Everything `open_store` does, plus transports and the engine."""
        await self.open_store()
        await self.record_start()
        self.ack_links = AckLinks.from_settings(self.settings)
        self.transports = self._given_transports or build_transports(
            self.settings, self.clock, self.ack_links
        )
        self.warning_gate = WarningGate(
            self.sessions, reads=self.reads, postgres=bool(self.db and is_postgres(self.db))
        )
        outbox = Outbox(
            sessions=self.sessions,
            transports=self.transports,
            clock=self.clock,
            worker=self.worker,
            roster=lambda: self.runtime.roster,
            observer=TimelineObserver(lambda: self.runtime.roster),
            batch_size=self.settings.engine_batch_size,
            lanes=self.settings.outbox_lanes or (4 if self.db and is_postgres(self.db) else 1),
            lease=timedelta(seconds=self.settings.send_lease_seconds),
            policy=DeliveryPolicy.from_settings(self.settings),
            gate=self.warning_gate,
        )
        self.engine = Engine(
            sessions=self.sessions,
            roster=lambda: self.runtime.roster,
            plans=lambda: self.runtime.plans,
            outbox=outbox,
            clock=self.clock,
            worker=self.worker,
            batch_size=self.settings.engine_batch_size,
            reads=self.reads,
            warning_rules=lambda: self.warning_rules,
            intake_rules=lambda: self.intake_rules,
            spot_checks=rules_from_settings(self.settings),
        )
        announce(self.transports)

    async def run_scheduler(self) -> None:
        """Start APScheduler: a safety tick, a wake-up at the next due time, office jobs.
        It holds no state that matters: the database says what is due."""
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        once = {"max_instances": 1}
        hour, minute = (int(x) for x in self.settings.roster_check_time.split(":"))
        daily = {"hour": hour, "timezone": self.settings.timezone, **once}
        for job, trigger, job_id, options in (
            (
                self._woken,
                "interval",
                "safety-tick",
                {"seconds": self.settings.engine_poll_seconds, "max_instances": WAKE_INSTANCES},
            ),
            (
                self.remind_shifts,
                "interval",
                "shift-reminders",
                {"minutes": 5, "next_run_time": datetime.now(UTC), **once},
            ),
            (self.check_roster_ahead, "cron", "roster-check", {"minute": minute, **daily}),
            (self.seal_audit, "interval", "audit-seal", {"seconds": 5, **once}),
            (self.plan_spot_checks, "interval", "spot-check-plan", {"minutes": 10, **once}),
            (self.anchor_audit, "interval", "audit-anchor", {"minutes": 10, **once}),
            # Upstream CAP feeds, each read when its poll_seconds have passed.
            (RelayPoller(self).poll_due, "interval", "relay-poll", {"seconds": 10, **once}),
            (
                self.forget_old_logins,
                "cron",
                "forget-old-logins",
                {"minute": (minute + 30) % 60, **daily},
            ),
        ):
            self.scheduler.add_job(job, trigger, id=job_id, coalesce=True, **options)
        self.scheduler.start()
        attachments = self.settings.data_dir / "attachments"
        store = self.intake_writer.store
        self.mailboxes = await start_mailboxes(self.intake_rules, store, self.clock, attachments)
        self.wake()

    async def remind_shifts(self) -> int:
        """Queue reminders for shifts starting within `shift_reminder_hours`."""
        if self.settings.shift_reminder_hours <= 0:
            return 0
        ahead = timedelta(hours=self.settings.shift_reminder_hours)
        async with self.sessions.begin() as session:
            queued = await office_jobs.remind_upcoming_shifts(
                session, self.runtime.roster, now=self.clock.now(), ahead=ahead
            )
        if queued:
            self.wake()
        return queued

    async def forget_old_logins(self) -> tuple[int, int]:
        """The daily clean-up of console sessions long over and old login attempts."""
        async with self.sessions.begin() as session:
            return await forget_old_logins(
                session, self.clock.now(), keep_days=self.settings.login_record_days
            )

    async def plan_spot_checks(self) -> int:
        """Plan the duty spot-checks of the shifts of the next 36 hours."""
        async with self.sessions.begin() as session:
            return await plan_checks(
                session,
                self.runtime.roster,
                rules_from_settings(self.settings),
                self.clock.now(),
                random.SystemRandom(),
            )

    async def seal_audit(self) -> int:
        """Chain the audit entries committed since the last seal."""
        async with self.sessions.begin() as session:
            return await audit_chain.seal(session, self.clock.now())

    async def anchor_audit(self) -> tuple[int, str] | None:
        """Write the audit chain's head to the anchor file and into the log."""
        await self.seal_audit()
        async with self.sessions.begin() as session:
            return await audit_chain.anchor(
                session, self.clock.now(), self.settings.effective_audit_anchor_file
            )

    async def check_roster_ahead(self) -> int:
        """The daily roster check: warn the duty office of gaps in the days ahead."""
        now = self.clock.now()
        local_day = now.astimezone(ZoneInfo(self.settings.timezone)).date().isoformat()
        async with self.sessions.begin() as session:
            in_force = self.runtime
            told = await office_jobs.warn_of_gaps(
                session,
                in_force.roster,
                in_force.rules,
                in_force.calendar,
                now=now,
                local_day=local_day,
            )
        if told:
            self.wake()
        return told

    async def tick(self) -> RunResult:
        metrics.ENGINE_RUNS.inc()
        began = self.clock.now()
        try:
            await self.refresh_roster()
            if self._plans_to_archive is not None:
                async with self.sessions.begin() as session:
                    await remember_plan_set(session, self._plans_to_archive, self.clock.now())
                self._plans_to_archive = None
            await self.record_reloads()
            result = await self.engine.run_due()
            next_due = await self.engine.next_due_at()
        except Exception:  # logged and counted; the next wake-up or the safety tick retries
            metrics.ENGINE_ERRORS.inc()
            log.exception("engine.pass_failed")
            return RunResult()
        metrics.STEPS_FIRED.inc(result.steps_fired)
        metrics.MESSAGES_ATTEMPTED.inc(result.messages_attempted)
        self.wake_for(next_due, began)
        return result

    async def ready(self) -> str | None:
        """None if this process can commit, else why not (logged and counted)."""
        if self.db is None or self.opened is None:
            return "not started"
        problem = await commit_problem(
            self.sessions, self.opened, worker=self.worker, now=self.clock.now()
        )
        if problem is not None:
            metrics.STORE_ERRORS.inc()
            log.error("store.not_ready", problem=problem)
        return problem

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop: let a running pass and sends still out finish (anything cut short is redone
        by the next process), then close everything."""
        self._stopping = True
        if self.scheduler is not None:
            self.scheduler.pause()
            try:
                async with asyncio.timeout(grace_seconds):
                    await self._idle.wait()
            except TimeoutError:
                log.warning("engine.stop_cut_pass_short", grace_seconds=grace_seconds)
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if hasattr(self, "engine"):
            await self.engine.outbox.drain(grace_seconds)
        for mailbox in getattr(self, "mailboxes", []):
            await mailbox.stop()
        if hasattr(self, "intake_writer"):
            await self.intake_writer.close()
        for transport in set(getattr(self, "transports", {}).values()):
            await transport.close()
        for engine in {e for e in (self.read_db, self.db) if e is not None}:
            await engine.dispose()
        self.read_db = self.db = None
