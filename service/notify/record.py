"""Record what became of a batch of sends, in one transaction.

- accepted: sent (or delivered, for the console) with the provider's id, set-based;
- a transient failure (timeout, 5xx, 429): back to pending after a backoff (at least the
  provider's Retry-After), up to the policy's attempts;
- the provider could not be asked whether it already has a taken-over message: it stays
  `sending` and is asked again later (sending could hand it over twice);
- a permanent failure, or the last try: failed, then fail-over (`failover`).
Each result goes to the observer (the incidents' timeline).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.digests import MessageText, bundled_incidents
from service.notify.events import add_event, add_events, event_values
from service.notify.failover import fail_over
from service.notify.observer import DeliveryObserver, DeliveryResult
from service.notify.policy import DeliveryPolicy
from service.notify.send import Outcome
from service.notify.tables import CLAIM_COLUMNS, MessageRow, MessageState
from service.notify.transport import OutgoingMessage, Receipt
from service.roster.roster import Roster
from service.store.bulk import among, update_rows

log = structlog.get_logger(__name__)

MESSAGES = MessageRow.__table__
RECONCILED = "found already accepted by the provider after a crash"


@dataclass
class Recorder:
    worker: str
    policy: DeliveryPolicy
    observer: DeliveryObserver
    rng: random.Random

    async def record(
        self,
        session: AsyncSession,
        messages: list[OutgoingMessage],
        outcomes: list[Outcome],
        roster: Roster | None,
        now: datetime,
    ) -> None:
        """Record a batch's results: accepted ones set-based, failures one by one."""
        held = {
            row.id: row
            for row in await session.execute(
                select(*CLAIM_COLUMNS)
                .where(
                    among(session, MessageRow.id, [m.id for m in messages]),
                    MessageRow.claimed_by == self.worker,
                    MessageRow.state.in_(
                        [MessageState.sending, MessageState.delivered, MessageState.failed]
                    ),
                )
                .with_for_update()
            )
        }
        accepted: list[tuple[Row[Any], Outcome, Receipt]] = []
        failed: list[tuple[int, Outcome]] = []
        for message, outcome in zip(messages, outcomes, strict=True):
            row = held.get(message.id)
            receipt = outcome.receipt
            reported_first = (
                row is not None
                and row.state != MessageState.sending
                and receipt is not None
                and row.provider_id == receipt.provider_id
            )
            if row is None or (row.state != MessageState.sending and not reported_first):
                log.warning("message.claim_lost", message_id=message.id, worker=self.worker)
            elif reported_first:
                assert receipt is not None
                await self._reported_first(session, row, receipt, now)
            elif receipt is not None:
                accepted.append((row, outcome, receipt))
            else:
                failed.append((row.id, outcome))
        if accepted:
            await self.accepted(session, accepted, now)
        for message_id, outcome in failed:
            row = await session.get(MessageRow, message_id)
            assert row is not None  # locked above
            await self._one_failure(session, row, outcome, roster, now)

    async def _reported_first(
        self, session: AsyncSession, row: Row[Any], receipt: Receipt, now: datetime
    ) -> None:
        """The provider's delivery report came before this answer and set the state (and did
        any fail-over): keep that state, record only when and how it was handed over."""
        await session.execute(
            MESSAGES.update()
            .where(MESSAGES.c.id == row.id)
            .values(transport=receipt.transport, sent_at=now, lease_until=None, updated_at=now)
        )
        await add_events(
            session,
            [
                event_values(
                    row.id,
                    MessageState.sent,
                    now,
                    f"{receipt.transport} {receipt.provider_id} "
                    f"(its {row.state} report came first)",
                )
            ],
        )
        if row.state == MessageState.delivered:  # a failure was reported already
            await self.report(
                session, row, now, f"delivered via {receipt.transport} ({receipt.provider_id})"
            )

    async def accepted(
        self,
        session: AsyncSession,
        accepted: list[tuple[Row[Any], Outcome, Receipt]],
        now: datetime,
    ) -> None:
        await update_rows(
            session,
            MESSAGES,
            [
                {
                    "id": row.id,
                    "state": receipt.state,
                    "transport": receipt.transport,
                    "provider_id": receipt.provider_id,
                    "delivered_at": now if receipt.state == MessageState.delivered else None,
                }
                for row, _, receipt in accepted
            ],
            same={"sent_at": now, "error": None, "lease_until": None, "updated_at": now},
        )
        bundled = await bundled_incidents(
            session, [row.id for row, _, _ in accepted if row.incident_id is None]
        )
        events, results = [], []
        for row, outcome, receipt in accepted:
            how = RECONCILED if outcome.reconciled else ""
            events.append(
                event_values(
                    row.id,
                    receipt.state,
                    now,
                    f"{receipt.transport} {receipt.provider_id or ''} {how}".strip(),
                )
            )
            results.append(
                delivery_result(
                    row,
                    bundled.get(row.id, []),
                    f"{receipt.state} via {receipt.transport}"
                    + (f" ({receipt.provider_id})" if receipt.provider_id else "")
                    + (" [reconciled]" if outcome.reconciled else ""),
                    failed=False,
                )
            )
            log.info(
                "message.sent", message_id=row.id, channel=row.channel, transport=receipt.transport
            )
        await add_events(session, events)
        await self.observer.results(session, results, now)

    async def _one_failure(
        self,
        session: AsyncSession,
        row: MessageRow,
        outcome: Outcome,
        roster: Roster | None,
        now: datetime,
    ) -> None:
        row.lease_until, row.updated_at = None, now
        error = outcome.error
        assert error is not None
        row.error = error.reason
        within_budget = now - row.created_at < self.policy.retry_for
        may_retry = row.attempts < self.policy.max_attempts or within_budget
        if outcome.unsure and may_retry:
            # Sending now could hand it over twice: stay "sending", ask again later.
            delay = self.policy.retry_delay(row.attempts, None, self.rng)
            row.lease_until = now + delay
            add_event(
                session,
                row.id,
                MessageState.sending,
                now,
                f"could not ask the provider whether it has it ({error.reason}); asking again",
            )
            return
        if error.retryable and may_retry:
            delay = self.policy.retry_delay(row.attempts, error.retry_after, self.rng)
            row.state, row.due_at = MessageState.pending, now + delay
            add_event(
                session,
                row.id,
                MessageState.pending,
                now,
                f"retry in {int(delay.total_seconds())}s after: {error.reason}",
            )
            log.info("message.retry", message_id=row.id, attempt=row.attempts, reason=error.reason)
            if row.attempts == self.policy.max_attempts:
                # The quick tries are spent: the text also goes to the person's next contact
                # now, while this one goes on trying until its time is up.
                until = row.created_at + self.policy.retry_for
                add_event(
                    session,
                    row.id,
                    MessageState.pending,
                    now,
                    f"{row.attempts} tries failed: failing over, and retrying until "
                    f"{until.isoformat(timespec='seconds')}",
                )
                await self.after_failure(session, row, roster, now)
            return
        row.state = MessageState.failed
        add_event(session, row.id, MessageState.failed, now, error.reason)
        log.warning("message.failed", message_id=row.id, channel=row.channel, reason=error.reason)
        await self.report(
            session, row, now, f"FAILED after {row.attempts} tries: {error.reason}", failed=True
        )
        await self.after_failure(session, row, roster, now)

    async def after_failure(
        self, session: AsyncSession, row: MessageRow, roster: Roster | None, now: datetime
    ) -> None:
        """A message that will not arrive: try the person's next contact method."""
        if roster is not None:
            await fail_over(session, roster, row, now, self.observer)

    async def report(
        self,
        session: AsyncSession,
        row: MessageText,
        now: datetime,
        detail: str,
        *,
        failed: bool = False,
    ) -> None:
        """Tell the observer what became of one message."""
        bundled = await bundled_incidents(session, [row.id] if row.incident_id is None else [])
        result = delivery_result(row, bundled.get(row.id, []), detail, failed=failed)
        await self.observer.results(session, [result], now)


def delivery_result(
    message: MessageText, bundled: list[int], detail: str, *, failed: bool
) -> DeliveryResult:
    return DeliveryResult(
        message_id=message.id,
        person_id=message.person_id,
        channel=message.channel,
        address=message.address,
        about=(message.incident_id,) if message.incident_id is not None else tuple(bundled),
        digest=message.incident_id is None,
        failed=failed,
        detail=detail,
    )
