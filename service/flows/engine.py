"""The engine: claims due work from the database and does it, round after round: due
escalation steps (fired), due report duties (advanced), due messages (the outbox).

Each step is claimed, fired and its consequences (messages, the next step, timeline
entries) written in one transaction. On PostgreSQL the claim uses FOR UPDATE SKIP
LOCKED, so several dutyd processes share the work and a process that dies mid-step
leaves the row to the others; on SQLite one writer at a time does the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import Clock
from service.drills import service as drills
from service.escalation import chain
from service.escalation.fire import fire_step, fire_unanswered_alert
from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.flows.instructions import advance_assignments
from service.flows.intake import Care, IntakeWork, in_care, watch_heartbeats, work_reports
from service.flows.mail_replies import instructions_by_mail
from service.flows.spotchecks import run_spot_checks
from service.flows.warning_fanout import WarningTexts, next_warning_due, run_warning_pass
from service.incidents import service as incidents
from service.incidents.models import OPEN_STATUSES
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.instructions.tables import AssignmentRow
from service.intake.rules import IntakeRules
from service.notify.outbox import Outbox
from service.notify.queue import QueuedMessage
from service.notify.tables import MessageRow, MessageState, state_is
from service.plans.archive import plan_by_digest
from service.plans.loader import PlanSet
from service.plans.models import ResolvedPlan
from service.reports.advance import advance_duty
from service.reports.tables import DutyState, ReportDutyRow
from service.roster.roster import Roster
from service.spotchecks.service import SpotCheckRules
from service.spotchecks.tables import SpotCheckRow
from service.warnings.workflow import WarningRules

log = structlog.get_logger(__name__)
Row = TypeVar("Row", EscalationStepRow, ReportDutyRow)


@dataclass
class RunResult:
    steps_fired: int = 0
    duties_advanced: int = 0
    messages_attempted: int = 0


@dataclass
class Engine:
    sessions: async_sessionmaker[AsyncSession]
    # What is in force at each moment: the daemon swaps in a new roster or plan set.
    roster: Callable[[], Roster]
    plans: Callable[[], PlanSet]
    outbox: Outbox
    clock: Clock
    worker: str
    batch_size: int = 100
    # Outbox batches sent between two batches of steps: new pages are not held behind a
    # long backlog of messages, nor due steps behind a long backlog of messages.
    send_batches_per_round: int = 4
    reads: async_sessionmaker[AsyncSession] | None = None
    # The public warnings' rules in force (fan-outs, withdrawals, expiry); None: none.
    warning_rules: Callable[[], WarningRules] | None = None
    # The machine sources' mapping rules in force; None: machine reports are not worked.
    intake_rules: Callable[[], IntakeRules] | None = None
    spot_checks: SpotCheckRules | None = None
    # Machine reports a transaction: most of a storm is counted on open incidents, cheap.
    intake_batch_size: int = 500
    # New incidents a transaction: their first pages go out before the rest is worked.
    intake_opened_per_batch: int = 10
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _care: Care = field(default_factory=Care)  # machine intake's: see `in_care`
    _warning_texts: WarningTexts = field(default_factory=WarningTexts)

    async def run_due(self) -> RunResult:
        """Fire due steps, advance due report duties and send due messages, a batch of each
        in turn, so that the first pages of a burst go out while the rest is still being
        fired. Safe to call at any time."""
        async with self._lock:
            result = RunResult()
            while True:
                fired = await self._fire_due_batch()
                advanced = await self._advance_due_duties()
                warnings_left = await self._warning_round()
                warnings_left |= await self._assignments_round()
                warnings_left |= await self._spot_check_round()
                sent, saw_messages = await self.outbox.deliver_round(self.send_batches_per_round)
                # After the outbox: the pages of incidents machine reports opened go out
                # before the next batch of a storm opens more.
                warnings_left |= await self._intake_round()
                result.steps_fired += fired
                result.duties_advanced += advanced
                result.messages_attempted += sent
                if not (fired or advanced or saw_messages or warnings_left):
                    return result

    async def _spot_check_round(self) -> bool:
        """Ask the duty officers whose spot-check is due; record the lapses."""
        if self.spot_checks is None or self.spot_checks.per_shift <= 0:
            return False
        async with self.sessions.begin() as session:
            done = await run_spot_checks(
                session, self.roster(), self.spot_checks, self.clock.now(), self.batch_size
            )
        return done == self.batch_size

    async def _assignments_round(self) -> bool:
        """Reminders and overdue supervision of leaders' assignments; True if a full batch."""
        async with self.sessions.begin() as session:
            done = await advance_assignments(
                session, self.roster(), self.clock.now(), self.batch_size
            )
        return done == self.batch_size

    async def _intake_round(self) -> bool:
        """A batch of machine reports made into incident work; True if it was a full one."""
        if self.intake_rules is None:
            return False
        mailboxes = [n for n, s in self.intake_rules().sources.items() if s.kind == "mail"]

        async def intake(session: AsyncSession, careful: bool) -> tuple[IntakeWork, bool, int]:
            await watch_heartbeats(session, **self._intake_in_force())
            work, more = await self._work_reports(session, careful)
            read = await instructions_by_mail(
                session, self.roster(), mailboxes, self.clock.now(), self.batch_size
            )
            return work, more, read

        work, more_reports, read = await in_care(
            self.sessions, self._care, self.clock.now(), intake
        )
        work.count_committed()
        # An incident it opened or resolved has pages to send: the pass goes round again.
        return more_reports or work.changed_incidents or read == self.batch_size

    async def run_reports(self) -> tuple[IntakeWork, bool]:
        """A batch of the machine reports waiting, and nothing else; and whether more may
        be waiting. One batch a call: the caller puts due steps and pages between them."""
        if self.intake_rules is None:
            return IntakeWork(), False
        async with self._lock:
            work, more = await in_care(
                self.sessions, self._care, self.clock.now(), self._work_reports
            )
        work.count_committed()
        return work, more

    def _intake_in_force(self) -> dict[str, Any]:
        """What machine reports are worked by, now."""
        assert self.intake_rules is not None
        return {
            "rules": self.intake_rules(),
            "roster": self.roster(),
            "plans": self.plans(),
            "now": self.clock.now(),
            "worker": self.worker,
        }

    async def _work_reports(self, session: AsyncSession, careful: bool) -> tuple[IntakeWork, bool]:
        """A batch of machine reports; and whether more may be waiting."""
        work, worked = await work_reports(
            session,
            **self._intake_in_force(),
            limit=self.intake_batch_size,
            max_opened=self.intake_opened_per_batch,
            careful=careful,
        )
        more = worked == self.intake_batch_size or work.opened >= self.intake_opened_per_batch
        return work, more

    async def _warning_round(self) -> bool:
        """A few chunks of public-warning fan-out and withdrawal; True if more is left."""
        if self.warning_rules is None:
            return False
        done = await run_warning_pass(
            self.sessions, self.warning_rules(), self._warning_texts, self.clock.now(), chunks=2
        )
        return done.more

    async def _claim(
        self, session: AsyncSession, query: Select[tuple[Row]]
    ) -> AsyncIterator[tuple[Row, IncidentRow, ResolvedPlan, Roster]]:
        """Due rows locked for this process, each with its incident (locked), plan, and the
        roster that reaches its people (a drill's stand-ins, if it has them).

        Rows another process holds are skipped (SKIP LOCKED). An acknowledgement locks the
        incident first; if one is under way, its rows wait for the next pass rather than
        this pass waiting on it (and risking a deadlock).
        """
        rows = (
            await session.scalars(query.limit(self.batch_size).with_for_update(skip_locked=True))
        ).all()
        if not rows:
            return
        incidents = {
            incident.id: incident
            for incident in await session.scalars(
                select(IncidentRow)
                .where(IncidentRow.id.in_({row.incident_id for row in rows}))
                .order_by(IncidentRow.id)
                .with_for_update(skip_locked=True)
            )
        }
        roster = self.roster()
        stand_ins = await drills.stand_ins_of(
            session, {i.drill_id for i in incidents.values() if i.drill_id is not None}
        )
        # A stand-in since taken off the roster is reached no more; the real holder is.
        played = {
            drill_id: roster.with_stand_ins({r: p for r, p in cast.items() if p in roster.people})
            for drill_id, cast in stand_ins.items()
            if cast
        }
        for row in rows:
            incident = incidents.get(row.incident_id)
            if incident is not None:
                plan = await plan_by_digest(session, incident.plan_version, self.plans())
                yield row, incident, plan, played.get(incident.drill_id or 0, roster)

    async def _fire_due_batch(self) -> int:
        now = self.clock.now()
        fired = 0
        due = (
            select(EscalationStepRow)
            .where(EscalationStepRow.state == StepState.pending, EscalationStepRow.due_at <= now)
            .order_by(EscalationStepRow.due_at, EscalationStepRow.id)
        )
        async with self.sessions.begin() as session:
            async for step, incident, plan, roster in self._claim(session, due):
                if not chain.still_wanted(
                    step,
                    open_=incident.status in OPEN_STATUSES,
                    acknowledged=incident.acknowledged_at is not None,
                ):
                    chain.mark_cancelled(step)
                    continue
                await fire(
                    session,
                    roster=roster,
                    plan=plan,
                    incident=incident,
                    step_row=step,
                    now=now,
                    worker=self.worker,
                )
                lateness = (now - step.due_at).total_seconds()
                log.info(
                    "step.fired",
                    incident_id=incident.id,
                    step=step.step_index,
                    round=step.round,
                    late_seconds=round(lateness, 3),
                )
                if lateness > 60:
                    add_entry(
                        session,
                        incident_id=incident.id,
                        at=now,
                        kind="step_late",
                        summary=f"step fired {int(lateness)}s after its due time "
                        "(dutyd was not running or was overloaded)",
                        data={
                            "late_seconds": int(lateness),
                            "step_kind": step.kind or StepKind.step,
                            "step_index": step.step_index,
                            "round": step.round,
                        },
                    )
                fired += 1
        return fired

    async def _advance_due_duties(self) -> int:
        """Report duties whose next action is due: reminders, late records, late escalation."""
        now = self.clock.now()
        advanced = 0
        due = (
            select(ReportDutyRow)
            .where(ReportDutyRow.state == DutyState.open, ReportDutyRow.next_at <= now)
            .order_by(ReportDutyRow.next_at, ReportDutyRow.id)
        )
        async with self.sessions.begin() as session:
            async for duty, incident, plan, roster in self._claim(session, due):
                await advance_duty(session, roster, plan, incident, duty, now)
                advanced += 1
        return advanced

    async def next_due_at(self) -> datetime | None:
        async with (self.reads or self.sessions)() as session:
            step_due = await session.scalar(
                select(func.min(EscalationStepRow.due_at)).where(
                    EscalationStepRow.state == StepState.pending
                )
            )
            message_due = await session.scalar(
                select(func.min(MessageRow.due_at)).where(state_is(MessageState.pending))
            )
            duty_due = await session.scalar(
                select(func.min(ReportDutyRow.next_at)).where(ReportDutyRow.state == DutyState.open)
            )
            warning_due = await next_warning_due(session) if self.warning_rules else None
            assignment_due = await session.scalar(
                select(func.min(AssignmentRow.next_at)).where(AssignmentRow.phase != "done")
            )
            check_due = await session.scalar(
                select(func.min(SpotCheckRow.next_at)).where(
                    SpotCheckRow.state.in_(["planned", "asked"])
                )
            )
        candidates = [
            d
            for d in (step_due, message_due, duty_due, warning_due, assignment_due, check_due)
            if d is not None
        ]
        return min(candidates) if candidates else None


async def fire_ack_timeout(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[QueuedMessage]:
    """Acknowledged but unresolved for too long: back to unacknowledged, the chain restarts."""
    chain.mark_fired(step_row, now=now, worker=worker)
    incidents.expire_acknowledgement(session, incident, now=now)
    first = await chain.start_chain(
        session,
        incident_id=incident.id,
        generation=incident.escalation_generation,
        now=now,
        worker=worker,
    )
    return fire_step(
        session, roster=roster, plan=plan, incident=incident, step_row=first, now=now, worker=worker
    )


async def fire(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[QueuedMessage]:
    """Fire whatever the row stands for: a chain step, the unanswered alert, an ack timeout."""
    kind = step_row.kind or StepKind.step
    if kind == StepKind.ack_timeout:
        return await fire_ack_timeout(
            session,
            roster=roster,
            plan=plan,
            incident=incident,
            step_row=step_row,
            now=now,
            worker=worker,
        )
    handler = fire_unanswered_alert if kind == StepKind.unanswered_alert else fire_step
    return handler(
        session,
        roster=roster,
        plan=plan,
        incident=incident,
        step_row=step_row,
        now=now,
        worker=worker,
    )
