"""One message to many: queueing a broadcast's messages in bulk, asking whom it reached,
withdrawing what of it is still waiting, and counting what became of it.

A broadcast is known here by its id only (a public warning's message id); what it says
and whom it is for is decided above. A broadcast that must stop (lifted, replaced) is
named by a `BroadcastGate`: the outbox neither claims nor hands over its messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.events import add_events, event_values
from service.notify.tables import MessageRow, MessageState, state_is
from service.store.bulk import among, insert_rows

MESSAGES = MessageRow.__table__


@dataclass(frozen=True)
class BroadcastMessage:
    recipient_id: int
    channel: str
    address: str
    body: str
    due_at: datetime
    subject: str = ""


def recipient_key(recipient_id: int) -> str:
    """What a broadcast message's `person_id` holds: the rate limit and the lanes go by it."""
    return f"recipient:{recipient_id}"


async def queue_broadcast(
    session: AsyncSession, broadcast_id: int, messages: Iterable[BroadcastMessage], now: datetime
) -> int:
    """Queue `messages` of the broadcast in one bulk insert; how many."""
    rows: list[dict[str, Any]] = [
        {
            "incident_id": None,
            "escalation_step_id": None,
            "person_id": recipient_key(m.recipient_id),
            "channel": m.channel,
            "address": m.address,
            "subject": m.subject,
            "body": m.body,
            "state": MessageState.pending,
            "due_at": m.due_at,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "broadcast_id": broadcast_id,
            "recipient_id": m.recipient_id,
        }
        for m in messages
    ]
    if rows:
        await insert_rows(session, MESSAGES, rows)
    return len(rows)


def queue_pushes(
    session: AsyncSession,
    broadcast_id: int,
    receivers: Iterable[tuple[str, str]],
    body: str,
    now: datetime,
) -> int:
    """The broadcast's CAP to each (name, url) receiver, due now; how many."""
    queued = 0
    for name, url in receivers:
        session.add(
            MessageRow(
                person_id=f"receiver:{name}",
                channel="cap",
                address=url,
                subject="",
                body=body,
                state=MessageState.pending,
                due_at=now,
                created_at=now,
                updated_at=now,
                broadcast_id=broadcast_id,
            )
        )
        queued += 1
    return queued


def reached(broadcast_ids: Iterable[int]) -> Select[tuple[int | None]]:
    """The recipients the broadcasts were handed to (or are being handed to): for the
    Update or Cancel that must reach exactly them. Not those whose message still waits or
    was withdrawn: a broadcast being replaced or lifted stops, and they never got it."""
    return select(MessageRow.recipient_id).where(
        MessageRow.broadcast_id.in_(list(broadcast_ids)),
        MessageRow.state.not_in([MessageState.pending, MessageState.withdrawn]),
    )


async def withdraw_waiting(
    session: AsyncSession, broadcast_ids: Iterable[int], now: datetime, limit: int
) -> int:
    """Up to `limit` messages of the broadcasts still waiting to go become `withdrawn`; how
    many. (A million-message broadcast is withdrawn in chunks after the gate has stopped
    it, not in the transaction that lifts it: the lift must commit at once.)"""
    ids = list(
        await session.scalars(
            select(MessageRow.id)
            .where(
                MessageRow.broadcast_id.in_(list(broadcast_ids)),
                state_is(MessageState.pending),
            )
            .limit(limit)
        )
    )
    if ids:
        await session.execute(
            update(MessageRow)
            .where(among(session, MessageRow.id, ids))
            .values(state=MessageState.withdrawn, updated_at=now, error="broadcast stopped")
            .execution_options(synchronize_session=False)
        )
    return len(ids)


async def withdraw_claimed(
    session: AsyncSession, message_ids: list[int], worker: str, now: datetime
) -> int:
    """Messages this worker claimed and must not hand over after all (their broadcast
    stopped between the claim and the hand-over): `withdrawn`, each with its event."""
    if not message_ids:
        return 0
    result = await session.execute(
        update(MessageRow)
        .where(
            among(session, MessageRow.id, message_ids),
            MessageRow.claimed_by == worker,
            state_is(MessageState.sending),
        )
        .values(state=MessageState.withdrawn, updated_at=now, error="broadcast stopped")
        .execution_options(synchronize_session=False)
    )
    await add_events(
        session,
        [event_values(i, MessageState.withdrawn, now, "broadcast stopped") for i in message_ids],
    )
    return result.rowcount or 0


async def broadcast_counts(
    session: AsyncSession, broadcast_ids: Iterable[int]
) -> Counter[tuple[int, str, str]]:
    """How many messages of each broadcast are in each state, per channel."""
    rows = await session.execute(
        select(MessageRow.broadcast_id, MessageRow.channel, MessageRow.state, func.count())
        .where(MessageRow.broadcast_id.in_(list(broadcast_ids)))
        .group_by(MessageRow.broadcast_id, MessageRow.channel, MessageRow.state)
    )
    return Counter({(b, c, s): n for b, c, s, n in rows})


async def last_hand_off(session: AsyncSession, broadcast_id: int) -> datetime | None:
    return await session.scalar(
        select(func.max(MessageRow.sent_at)).where(MessageRow.broadcast_id == broadcast_id)
    )


class BroadcastGate(Protocol):
    """Which broadcasts must stop. The outbox asks in its claim (`stopped`) and once more
    while it hands a batch over (`holding`): a lift that commits while a batch is out
    waits for the hand-over to end, and no message of it is handed over afterwards."""

    async def stopped(self, session: AsyncSession) -> set[int]: ...

    def holding(self, broadcast_ids: set[int]) -> AbstractAsyncContextManager[set[int]]: ...


class OpenGate:
    """No broadcast ever stops (an outbox without public warnings)."""

    async def stopped(self, session: AsyncSession) -> set[int]:
        return set()

    def holding(self, broadcast_ids: set[int]) -> AbstractAsyncContextManager[set[int]]:
        return _nothing_stopped()


class _NothingStopped:
    async def __aenter__(self) -> set[int]:
        return set()

    async def __aexit__(self, *_: object) -> None:
        return None


def _nothing_stopped() -> _NothingStopped:
    return _NothingStopped()
