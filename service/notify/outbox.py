"""Hand due messages to their transports and record what became of each.

A message is claimed (pending -> sending, with a lease) and committed before the
provider is called, so a process that dies mid-send leaves a row another process
takes over once the lease has run out: delivery is at least once, never silently lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.catalog import Channel
from service.clock import Clock
from service.errors import DeliveryFailed
from service.incidents.timeline import add_entry
from service.notify.tables import MessageRow, MessageState
from service.notify.transport import OutgoingMessage, Receipt, Transports

log = structlog.get_logger(__name__)


@dataclass
class Outcome:
    receipt: Receipt | None = None
    error: DeliveryFailed | None = None


@dataclass
class Outbox:
    sessions: async_sessionmaker[AsyncSession]
    transports: Transports
    clock: Clock
    worker: str
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=120)

    async def deliver_due(self) -> int:
        """Send every message due now, batch by batch; return how many were attempted."""
        total = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return total
            outcomes = await asyncio.gather(*(self._send(m) for m in claimed))
            await self._record(claimed, outcomes)
            total += len(claimed)

    async def _claim(self) -> list[OutgoingMessage]:
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
            for row in rows:
                if row.state == MessageState.sending:
                    log.warning("message.lease_expired", message_id=row.id, previous=row.claimed_by)
                row.state = MessageState.sending
                row.claimed_by = self.worker
                row.lease_until = now + self.lease
                row.attempts += 1
                row.updated_at = now
            return [
                OutgoingMessage(
                    id=r.id,
                    channel=Channel(r.channel),
                    address=r.address,
                    subject=r.subject,
                    body=r.body,
                    incident_id=r.incident_id,
                )
                for r in rows
            ]

    async def _send(self, message: OutgoingMessage) -> Outcome:
        transport = self.transports.get(message.channel)
        if transport is None:
            return Outcome(
                error=DeliveryFailed(f"no transport for {message.channel}", retryable=False)
            )
        try:
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
                await self._record_one(session, message, outcome, now)

    async def _record_one(
        self, session: AsyncSession, message: OutgoingMessage, outcome: Outcome, now: datetime
    ) -> None:
        if outcome.receipt is not None:
            values = {
                "state": outcome.receipt.state,
                "transport": outcome.receipt.transport,
                "provider_id": outcome.receipt.provider_id,
                "sent_at": now,
                "error": None,
            }
            summary = (
                f"{message.channel.value} to {message.address} {outcome.receipt.state} "
                f"via {outcome.receipt.transport}"
                + (f" ({outcome.receipt.provider_id})" if outcome.receipt.provider_id else "")
            )
            kind = "message_sent"
            log.info(
                "message.sent",
                message_id=message.id,
                channel=message.channel.value,
                transport=outcome.receipt.transport,
            )
        else:
            assert outcome.error is not None
            values = {"state": MessageState.failed, "error": outcome.error.reason}
            summary = f"{message.channel.value} to {message.address} failed: {outcome.error.reason}"
            kind = "message_failed"
            log.warning(
                "message.failed",
                message_id=message.id,
                channel=message.channel.value,
                reason=outcome.error.reason,
                retryable=outcome.error.retryable,
            )
        result = await session.execute(
            update(MessageRow)
            .where(
                MessageRow.id == message.id,
                MessageRow.claimed_by == self.worker,
                MessageRow.state == MessageState.sending,
            )
            .values(**values, lease_until=None, updated_at=now)
        )
        if result.rowcount == 0:
            log.warning("message.claim_lost", message_id=message.id, worker=self.worker)
            return
        if message.incident_id is not None:
            add_entry(
                session,
                incident_id=message.incident_id,
                at=now,
                kind=kind,
                summary=summary,
                data={"message_id": message.id},
            )
