"""Hand due messages to their transports and record what became of each.

A message is claimed (pending -> sending, with a lease) and committed before the
provider is called, then its result is recorded:

- accepted: sent (or delivered, for the console) with the provider's id;
- a transient failure (timeout, 5xx, 429): back to pending after an exponential backoff
  with jitter (at least the provider's Retry-After), up to `delivery_max_attempts`;
- a permanent failure, or the last try: failed, and a new message goes to the person's
  next contact method; when none is left, the duty office is told once that the person
  cannot be reached.

A process that dies mid-send leaves the message `sending`; once its lease runs out any
process takes it over, first asking the provider whether it already accepted it
(`Transport.find_sent`) so that it is not handed over twice where that can be known.
Many messages due at once for one person on one channel go as a single digest, and a
per-person rate limit delays (never drops) the rest. Every state change is an event row.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.catalog import Channel
from service.clock import Clock
from service.errors import DeliveryFailed
from service.incidents.timeline import add_entry
from service.notify.failover import fail_over
from service.notify.tables import MessageEventRow, MessageRow, MessageState
from service.notify.transport import OutgoingMessage, Receipt, Transports
from service.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff: timedelta = timedelta(seconds=10)
    backoff_max: timedelta = timedelta(minutes=10)
    digest_threshold: int = 3
    rate_limit_per_minute: int = 6

    def retry_delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> timedelta:
        base = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        delay = base * rng.uniform(0.5, 1.0)  # jitter: retries of many messages spread out
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay


@dataclass
class Outcome:
    receipt: Receipt | None = None
    error: DeliveryFailed | None = None
    reconciled: bool = False
    unsure: bool = False  # the provider could not be asked whether it already has it


def event(
    session: AsyncSession, message_id: int, state: str, at: datetime, detail: str = ""
) -> None:
    session.add(MessageEventRow(message_id=message_id, at=at, state=state, detail=detail))


def outgoing(row: MessageRow, language: str = "zh") -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        channel=Channel(row.channel),
        address=row.address,
        subject=row.subject,
        body=row.body,
        incident_id=row.incident_id,
        person_id=row.person_id,
        language=language,
    )


@dataclass
class Outbox:
    sessions: async_sessionmaker[AsyncSession]
    transports: Transports
    clock: Clock
    worker: str
    runtime: Runtime | None = None
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=120)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    rng: random.Random = field(default_factory=random.Random)

    async def deliver_due(self) -> int:
        """Send every message due now, batch by batch; return how many were attempted."""
        total = 0
        while True:
            claimed, stale = await self._claim()
            if not claimed:
                return total
            outcomes = await asyncio.gather(
                *(self._send(m, reconcile_since=stale.get(m.id)) for m in claimed)
            )
            await self._record(claimed, outcomes)
            total += len(claimed)

    def _language(self, person_id: str | None) -> str:
        if self.runtime and person_id in self.runtime.roster.people:
            return self.runtime.roster.people[person_id].language
        return "zh"

    async def _claim(self) -> tuple[list[OutgoingMessage], dict[int, datetime]]:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(MessageRow)
                    .where(
                        or_(
                            and_(
                                MessageRow.state == MessageState.pending, MessageRow.due_at <= now
                            ),
                            and_(
                                MessageRow.state == MessageState.sending,
                                MessageRow.lease_until < now,
                            ),
                        )
                    )
                    .order_by(MessageRow.due_at, MessageRow.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            stale: dict[int, datetime] = {}
            ready: list[MessageRow] = []
            groups: dict[tuple[str, str], list[MessageRow]] = defaultdict(list)
            for row in rows:
                if row.state == MessageState.sending:
                    # Its sender died mid-send: ask the provider before sending again.
                    log.warning("message.lease_expired", message_id=row.id, previous=row.claimed_by)
                    # It cannot have been handed over before it was created.
                    stale[row.id] = row.created_at - timedelta(seconds=5)
                    ready.append(row)
                else:
                    groups[(row.person_id, row.channel)].append(row)
            for (person_id, channel), items in groups.items():
                ready.extend(await self._pace(session, person_id, channel, items, now))
            for row in ready:
                row.state = MessageState.sending
                row.claimed_by = self.worker
                row.lease_until = now + self.lease
                row.attempts += 1
                row.updated_at = now
                event(
                    session,
                    row.id,
                    MessageState.sending,
                    now,
                    f"attempt {row.attempts} by {self.worker}",
                )
            return [outgoing(r, self._language(r.person_id)) for r in ready], stale

    async def _pace(
        self,
        session: AsyncSession,
        person_id: str,
        channel: str,
        items: list[MessageRow],
        now: datetime,
    ) -> list[MessageRow]:
        """Apply the per-person rate limit and bundle many messages into one digest."""
        recent = int(
            await session.scalar(
                select(func.count())
                .select_from(MessageRow)
                .where(
                    MessageRow.person_id == person_id,
                    MessageRow.channel == channel,
                    MessageRow.sent_at > now - timedelta(minutes=1),
                    MessageRow.digest_of.is_(None),
                )
            )
            or 0
        )
        allowed = self.policy.rate_limit_per_minute - recent
        if allowed <= 0:
            for row in items:
                row.due_at = now + timedelta(minutes=1)
                event(session, row.id, MessageState.pending, now, "rate limit: waits a minute")
            return []
        if len(items) < self.policy.digest_threshold and len(items) <= allowed:
            return items
        digest = MessageRow(
            incident_id=None,
            person_id=person_id,
            channel=channel,
            address=items[0].address,
            subject=f"{len(items)}条新通知 / {len(items)} new notifications",
            body=digest_body(items),
            state=MessageState.pending,
            due_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(digest)
        await session.flush()
        for row in items:
            row.state, row.digest_of, row.updated_at = MessageState.bundled, digest.id, now
            event(session, row.id, MessageState.bundled, now, f"bundled into digest #{digest.id}")
        log.info("message.digest", person=person_id, channel=channel, messages=len(items))
        return [digest]

    async def _send(self, message: OutgoingMessage, reconcile_since: datetime | None) -> Outcome:
        transport = self.transports.get(message.channel)
        if transport is None:
            return Outcome(
                error=DeliveryFailed(f"no transport for {message.channel}", retryable=False)
            )
        try:
            if reconcile_since is not None:
                try:
                    found = await transport.find_sent(message, reconcile_since)
                except DeliveryFailed as exc:
                    return Outcome(error=exc, unsure=True)
                if found is not None:
                    return Outcome(receipt=found, reconciled=True)
            return Outcome(receipt=await transport.send(message))
        except DeliveryFailed as exc:
            return Outcome(error=exc)
        except Exception as exc:  # a transport bug must not lose the record of this message
            log.exception("transport.crashed", message_id=message.id, transport=transport.name)
            return Outcome(error=DeliveryFailed(f"transport error: {exc!r}", retryable=False))

    async def _record(self, messages: list[OutgoingMessage], outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            for message, outcome in zip(messages, outcomes, strict=True):
                row = await session.scalar(
                    select(MessageRow)
                    .where(
                        MessageRow.id == message.id,
                        MessageRow.claimed_by == self.worker,
                        MessageRow.state == MessageState.sending,
                    )
                    .with_for_update()
                )
                if row is None:
                    log.warning("message.claim_lost", message_id=message.id, worker=self.worker)
                    continue
                await self._record_one(session, row, outcome, now)

    async def _record_one(
        self, session: AsyncSession, row: MessageRow, outcome: Outcome, now: datetime
    ) -> None:
        row.lease_until, row.updated_at = None, now
        if outcome.receipt is not None:
            receipt = outcome.receipt
            row.state, row.transport, row.provider_id = (
                receipt.state,
                receipt.transport,
                receipt.provider_id,
            )
            row.sent_at, row.error = now, None
            if receipt.state == MessageState.delivered:
                row.delivered_at = now
            how = (
                "found already accepted by the provider after a crash" if outcome.reconciled else ""
            )
            event(
                session,
                row.id,
                receipt.state,
                now,
                f"{receipt.transport} {receipt.provider_id or ''} {how}".strip(),
            )
            await self._note_result(
                session,
                row,
                now,
                f"{receipt.state} via {receipt.transport}"
                + (f" ({receipt.provider_id})" if receipt.provider_id else "")
                + (" [reconciled]" if outcome.reconciled else ""),
            )
            log.info(
                "message.sent", message_id=row.id, channel=row.channel, transport=receipt.transport
            )
            return
        error = outcome.error
        assert error is not None
        row.error = error.reason
        if outcome.unsure and row.attempts < self.policy.max_attempts:
            # Sending now could hand it over twice: stay "sending", ask again later.
            delay = self.policy.retry_delay(row.attempts, None, self.rng)
            row.lease_until = now + delay
            event(
                session,
                row.id,
                MessageState.sending,
                now,
                f"could not ask the provider whether it has it ({error.reason}); asking again",
            )
            return
        if error.retryable and row.attempts < self.policy.max_attempts:
            delay = self.policy.retry_delay(row.attempts, error.retry_after, self.rng)
            row.state, row.due_at = MessageState.pending, now + delay
            event(
                session,
                row.id,
                MessageState.pending,
                now,
                f"retry in {int(delay.total_seconds())}s after: {error.reason}",
            )
            log.info("message.retry", message_id=row.id, attempt=row.attempts, reason=error.reason)
            return
        row.state = MessageState.failed
        event(session, row.id, MessageState.failed, now, error.reason)
        log.warning("message.failed", message_id=row.id, channel=row.channel, reason=error.reason)
        await self._note_result(
            session, row, now, f"FAILED after {row.attempts} tries: {error.reason}"
        )
        await self.after_failure(session, row, now)

    async def after_failure(self, session: AsyncSession, row: MessageRow, now: datetime) -> None:
        """A message that will not arrive: try the person's next contact method."""
        if self.runtime is not None:
            await fail_over(session, self.runtime.roster, row, now)

    async def _note_result(
        self, session: AsyncSession, row: MessageRow, now: datetime, what: str
    ) -> None:
        """Put the result on the timeline of each incident the message was about."""
        incidents = (
            [row.incident_id]
            if row.incident_id is not None
            else list(
                await session.scalars(
                    select(MessageRow.incident_id).where(
                        MessageRow.digest_of == row.id, MessageRow.incident_id.is_not(None)
                    )
                )
            )
        )
        digest = " (digest)" if row.incident_id is None and incidents else ""
        for incident_id in dict.fromkeys(incidents):
            add_entry(
                session,
                incident_id=incident_id,
                at=now,
                kind="message_sent" if "FAILED" not in what else "message_failed",
                summary=f"{row.channel} to {row.address}{digest} {what}",
                data={"message_id": row.id},
            )


def digest_body(items: list[MessageRow]) -> str:
    """Every bundled message keeps a line: an incident is never dropped from a digest."""
    lines = [f"{len(items)}条新通知 / {len(items)} new notifications:"]
    for n, row in enumerate(items, start=1):
        first = row.body.strip().splitlines()[0] if row.body.strip() else row.subject
        code = f"#{row.incident_id} " if row.incident_id is not None else ""
        lines.append(f"{n}) {code}{first[:60]}")
    return "\n".join(lines)
