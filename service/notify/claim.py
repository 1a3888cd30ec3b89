"""Claim a batch of due messages: lease them to this process and commit before sending.

Due means pending and due, or `sending` with an expired lease (its sender died mid-send:
it is taken over, and the provider is asked first whether it already has it). Pending
messages pass the rate limit and digests (`pacing`) on the way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.digests import digests_among
from service.notify.events import add_events, event_values
from service.notify.pacing import pace, recent_sends
from service.notify.policy import DeliveryPolicy
from service.notify.tables import CLAIM_COLUMNS, MessageRow, MessageState, state_is
from service.store.bulk import among
from service.store.database import is_postgres

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Lease:
    worker: str
    duration: timedelta
    lane: int = 0
    lanes: int = 1


@dataclass(frozen=True)
class Takeover:
    """A message taken over from a dead sender: the earliest time it can have been handed
    over, and the provider ids other messages to the same address already have (the same
    text may have gone there since, for another message: that one is not this one)."""

    since: datetime
    others_sent: frozenset[str]


@dataclass
class Claimed:
    rows: list[Row[Any]]
    takeovers: dict[int, Takeover]
    seen: int  # due rows looked at, including any held back by the rate limit


def due_query(
    session: AsyncSession,
    now: datetime,
    lease: Lease,
    batch_size: int,
    stopped: frozenset[int] = frozenset(),
) -> Select[Any]:
    """The next batch due in the lease's lane: pending and due, or stale `sending`; none
    of a broadcast that has stopped (its messages are withdrawn in the background)."""
    query = select(*CLAIM_COLUMNS)
    if stopped:
        query = query.where(
            or_(MessageRow.broadcast_id.is_(None), MessageRow.broadcast_id.not_in(stopped))
        )
    if lease.lanes > 1 and is_postgres(session):
        # Each person's messages go through one lane, so that lanes do not split a
        # person's digest or each spend the person's rate limit. (SQLite has one
        # writer: its lanes take turns anyway.)
        query = query.where(
            func.abs(func.hashtext(MessageRow.person_id)) % lease.lanes == lease.lane
        )
    return (
        query.where(
            or_(
                and_(state_is(MessageState.pending), MessageRow.due_at <= now),
                and_(state_is(MessageState.sending), MessageRow.lease_until < now),
            )
        )
        .order_by(MessageRow.due_at, MessageRow.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


async def claim(
    session: AsyncSession,
    now: datetime,
    lease: Lease,
    policy: DeliveryPolicy,
    batch_size: int,
    stopped: frozenset[int] = frozenset(),
) -> Claimed:
    """Lease a batch of due messages in a few set-based statements, not a few per row."""
    rows = (await session.execute(due_query(session, now, lease, batch_size, stopped))).all()
    if not rows:
        return Claimed([], {}, 0)
    stale: dict[int, datetime] = {}
    ready: list[Row[Any]] = []
    groups: dict[tuple[str, str], list[Row[Any]]] = defaultdict(list)
    digests = await digests_among(session, rows)
    for row in rows:
        if row.state == MessageState.sending:
            # Its sender died mid-send (a digest as much as a single message): ask the
            # provider before sending again.
            log.warning("message.lease_expired", message_id=row.id, previous=row.claimed_by)
            # It cannot have been handed over before it was created.
            stale[row.id] = row.created_at - timedelta(seconds=5)
            ready.append(row)
        elif row.id in digests:
            ready.append(row)  # a digest being retried: never bundled again
        elif row.channel == Channel.cap:
            ready.append(row)  # a receiver takes every CAP message as it comes, never bundled
        else:
            groups[(row.person_id, row.channel)].append(row)
    recent = await recent_sends(session, {person for person, _ in groups}, now)
    events: list[dict[str, Any]] = []
    for (person_id, channel), items in groups.items():
        ready.extend(
            await pace(
                session,
                policy,
                person_id,
                channel,
                items,
                recent.get((person_id, channel)),
                now,
                events,
            )
        )
    if ready:
        await session.execute(
            update(MessageRow)
            .where(among(session, MessageRow.id, [row.id for row in ready]))
            .values(
                state=MessageState.sending,
                claimed_by=lease.worker,
                lease_until=now + lease.duration,
                attempts=MessageRow.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    events.extend(
        event_values(
            row.id, MessageState.sending, now, f"attempt {row.attempts + 1} by {lease.worker}"
        )
        for row in ready
    )
    await add_events(session, events)
    return Claimed(ready, await _takeovers(session, rows, stale), len(rows))


async def _takeovers(
    session: AsyncSession, rows: Sequence[Row[Any]], stale: dict[int, datetime]
) -> dict[int, Takeover]:
    if not stale:
        return {}
    addresses = {row.address for row in rows if row.id in stale}
    sent_to: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for message_id, address, provider_id in await session.execute(
        select(MessageRow.id, MessageRow.address, MessageRow.provider_id).where(
            among(session, MessageRow.address, addresses), MessageRow.provider_id.is_not(None)
        )
    ):
        sent_to[address].append((message_id, provider_id))
    by_id = {row.id: row for row in rows}
    return {
        message_id: Takeover(
            since,
            frozenset(
                provider_id
                for other, provider_id in sent_to[by_id[message_id].address]
                if other != message_id
            ),
        )
        for message_id, since in stale.items()
    }
