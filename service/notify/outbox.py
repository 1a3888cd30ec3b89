"""The outbox: hand due messages to their transports and record what became of each.

A pass goes stage by stage, each its own module that knows nothing of incidents:
`claim` (lease a due batch, commit before calling anyone) → `pacing` and `digests` (the
per-person rate limit; many messages at once go as one) → `send` (the transport, or first
the provider's record of a message taken over after a crash) → `record` (results, retries
with backoff) → `failover` (the person's next contact, then "unreachable"). What became
of each message goes up to a `DeliveryObserver`.

A process that dies mid-send leaves the message `sending`; once its lease runs out any
process takes it over. Every state change is an event row.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.catalog import Channel
from service.clock import Clock
from service.notify.broadcasts import BroadcastGate, OpenGate, withdraw_claimed
from service.notify.claim import Claimed, Lease, Takeover, claim
from service.notify.observer import DeliveryObserver, IgnoreResults
from service.notify.policy import DeliveryPolicy
from service.notify.record import Recorder
from service.notify.send import Outcome, send
from service.notify.tables import MessageRow
from service.notify.transport import OutgoingMessage, Transports
from service.roster.roster import Roster

__all__ = ["DeliveryPolicy", "Outbox", "Outcome"]
log = structlog.get_logger(__name__)


class Batch(NamedTuple):
    """A claimed batch, leased to this process and committed, ready to send."""

    messages: list[OutgoingMessage]
    # Messages taken over from a dead sender: what the provider must be asked first.
    takeovers: dict[int, Takeover]
    seen: int  # due rows looked at, including any held back by the rate limit


@dataclass
class Outbox:
    sessions: async_sessionmaker[AsyncSession]
    transports: Transports
    clock: Clock
    worker: str
    # The roster in force now (people's languages and contacts, for fail-over).
    roster: Callable[[], Roster] | None = None
    observer: DeliveryObserver = field(default_factory=IgnoreResults)
    batch_size: int = 100
    lanes: int = 1
    lease: timedelta = timedelta(seconds=120)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    # Which broadcasts (public warnings) must stop: lifted or replaced ones.
    gate: BroadcastGate = field(default_factory=OpenGate)

    # A batch's answers are recorded when the slowest has come or after this long: one
    # provider request hanging to its timeout must not hold every other message's record
    # (and the lane's next batch) for that long. The slow ones are recorded as they come.
    record_after: timedelta = timedelta(seconds=2)

    _recorder: Recorder | None = field(default=None, init=False, repr=False)
    _stragglers: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    @property
    def recorder(self) -> Recorder:
        """The record stage, with the policy in force (a caller may swap the policy)."""
        if self._recorder is None or self._recorder.policy is not self.policy:
            self._recorder = Recorder(self.worker, self.policy, self.observer, self.rng)
        return self._recorder

    async def deliver_due(self) -> int:
        """Send every message due now, batch by batch; return how many were attempted."""
        attempted, _ = await self.deliver_round(max_batches=None)
        return attempted

    async def deliver_round(self, max_batches: int | None) -> tuple[int, bool]:
        """Send up to `max_batches` batches per lane: (messages attempted, due rows seen).

        With `lanes` > 1 that many batches are in flight at once (PostgreSQL: SKIP LOCKED
        gives each its own rows), so the database works on one while Python prepares the
        next. Bounding the batches lets the engine fire due steps between rounds.
        """
        async with asyncio.TaskGroup() as group:  # a failing lane stops the others
            lanes = [
                group.create_task(self._deliver_lane(max_batches, lane))
                for lane in range(self.lanes)
            ]
        results = [lane.result() for lane in lanes]
        return sum(attempted for attempted, _ in results), any(seen for _, seen in results)

    async def _deliver_lane(self, max_batches: int | None, lane: int = 0) -> tuple[int, bool]:
        attempted = batches = 0
        seen_any = False
        while max_batches is None or batches < max_batches:
            # A batch held back whole by the rate limit still counts as seen: there may
            # be due rows after it.
            messages, takeovers, seen = await self.claim(lane)
            if not seen:
                break
            seen_any, batches = True, batches + 1
            if messages:
                await self._send_batch(messages, takeovers)
                attempted += len(messages)
        return attempted, seen_any

    async def _send_batch(
        self, messages: list[OutgoingMessage], takeovers: dict[int, Takeover]
    ) -> None:
        broadcasts = {m.broadcast_id for m in messages if m.broadcast_id is not None}
        if not broadcasts:
            await self._hand_over(messages, takeovers)
            return
        # Held while the batch is handed over: a lift committing meanwhile waits for it,
        # and what it stops before the hand-over is withdrawn instead of sent.
        async with self.gate.holding(broadcasts) as stopped:
            if stopped:
                withdrawn = [m for m in messages if m.broadcast_id in stopped]
                messages = [m for m in messages if m.broadcast_id not in stopped]
                async with self.sessions.begin() as session:
                    await withdraw_claimed(
                        session, [m.id for m in withdrawn], self.worker, self.clock.now()
                    )
            await self._hand_over(messages, takeovers)

    async def _hand_over(
        self, messages: list[OutgoingMessage], takeovers: dict[int, Takeover]
    ) -> None:
        if not messages:
            return
        sends = {asyncio.ensure_future(self._send(m, takeovers.get(m.id))): m for m in messages}
        done, slow = await asyncio.wait(sends, timeout=self.record_after.total_seconds())
        await self.record([sends[t] for t in done], [t.result() for t in done])
        if slow:
            # Still leased to this process: recorded when they answer, or taken over by
            # another process if this one dies first.
            later = asyncio.ensure_future(self._record_when_answered({t: sends[t] for t in slow}))
            self._stragglers.add(later)
            later.add_done_callback(self._stragglers.discard)

    async def _record_when_answered(
        self, sends: dict[asyncio.Future[Outcome], OutgoingMessage]
    ) -> None:
        await asyncio.wait(list(sends))
        try:
            await self.record(list(sends.values()), [t.result() for t in sends])
        except Exception:  # the lease runs out and another pass takes them over
            log.exception("outbox.late_record_failed", messages=[m.id for m in sends.values()])

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for sends still out to be answered and recorded."""
        if self._stragglers:
            await asyncio.wait(list(self._stragglers), timeout=seconds)

    async def claim(self, lane: int = 0) -> Batch:
        """Lease a batch of due messages in `lane` and commit, before anything is sent."""
        lease = Lease(self.worker, self.lease, lane, self.lanes)
        async with self.sessions.begin() as session:
            stopped = frozenset(await self.gate.stopped(session))
            claimed = await claim(
                session, self.clock.now(), lease, self.policy, self.batch_size, stopped
            )
        return Batch(self._outgoing(claimed), claimed.takeovers, claimed.seen)

    async def _send(self, message: OutgoingMessage, takeover: Takeover | None) -> Outcome:
        if takeover is None:
            return await send(self.transports, message, None)
        return await send(self.transports, message, takeover.since, takeover.others_sent)

    def _outgoing(self, claimed: Claimed) -> list[OutgoingMessage]:
        roster = self.roster() if self.roster else None
        messages = []
        for row in claimed.rows:
            person = roster.people.get(row.person_id) if roster else None
            messages.append(
                OutgoingMessage(
                    id=row.id,
                    channel=Channel(row.channel),
                    address=row.address,
                    subject=row.subject,
                    body=row.body,
                    incident_id=row.incident_id,
                    person_id=row.person_id,
                    language=person.language if person else "zh",
                    broadcast_id=row.broadcast_id,
                )
            )
        return messages

    async def record(self, messages: list[OutgoingMessage], outcomes: list[Outcome]) -> None:
        """Record a batch's results in one transaction."""
        if not messages:
            return
        async with self.sessions.begin() as session:
            await self.recorder.record(
                session,
                messages,
                outcomes,
                self.roster() if self.roster else None,
                self.clock.now(),
            )

    async def after_failure(self, session: AsyncSession, row: MessageRow, now: datetime) -> None:
        """A message reported failed by its provider: the person's next contact method."""
        await self.recorder.after_failure(session, row, self.roster() if self.roster else None, now)

    async def reported_failed(
        self, session: AsyncSession, row: MessageRow, detail: str, now: datetime
    ) -> None:
        """The provider reported a message it had accepted as not delivered: the result
        goes up, and the person's next contact method is tried."""
        await self.recorder.report(session, row, now, detail, failed=True)
        await self.after_failure(session, row, now)
