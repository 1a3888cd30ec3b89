"""The per-person rate limit: what would exceed it waits (never dropped), and many
messages due at once for one person go out as digests.

A burst is gathered: what comes due for a person within `digest_gather` of their last
message waits until then and goes with whatever else came meanwhile. Without it, forty
incidents opened one after another in a second took the minute's six texts with their
first six pages, and the other thirty-four waited a minute for the window to free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.digests import bundle, digest_chunks
from service.notify.events import event_values
from service.notify.policy import RATE_WINDOW, DeliveryPolicy
from service.notify.tables import MessageRow, MessageState, state_is
from service.store.bulk import among


@dataclass(frozen=True, slots=True)
class Recent:
    """Messages sent to one person on one channel in the last minute."""

    count: int
    oldest: datetime
    latest: datetime

    def add(self, other: Recent) -> Recent:
        return Recent(
            self.count + other.count, min(self.oldest, other.oldest), max(self.latest, other.latest)
        )


RecentSends = dict[tuple[str, str], Recent]


async def recent_sends(session: AsyncSession, people: set[str], now: datetime) -> RecentSends:
    """How many messages went to each person on each channel in the last minute (and the
    oldest and latest of them), counting those another lane or process is sending now."""
    if not people:
        return {}
    window = now - RATE_WINDOW
    counted: RecentSends = {}
    for when, condition in (
        (MessageRow.sent_at, MessageRow.sent_at > window),
        (
            MessageRow.updated_at,
            and_(state_is(MessageState.sending), MessageRow.updated_at > window),
        ),
    ):
        rows = await session.execute(
            select(
                MessageRow.person_id,
                MessageRow.channel,
                func.count(),
                func.min(when),
                func.max(when),
            )
            .where(among(session, MessageRow.person_id, people), condition)
            .group_by(MessageRow.person_id, MessageRow.channel)
        )
        for person, channel, count, oldest, latest in rows:
            found = Recent(count, oldest, latest)
            before = counted.get((person, channel))
            counted[(person, channel)] = found if before is None else before.add(found)
    return counted


async def pace(
    session: AsyncSession,
    policy: DeliveryPolicy,
    person_id: str,
    channel: str,
    items: list[Row[Any]],
    recent: Recent | None,
    now: datetime,
    events: list[dict[str, Any]],
) -> list[Row[Any]]:
    """What may go now to one person on one channel: the items themselves, or digests of
    them; the rest is held until the rate limit frees, or the burst is gathered.

    A public warning's messages are only held: each goes whole and as issued (a lift
    withdraws what of it still waits), never gathered into a digest."""
    sent, oldest = (recent.count, recent.oldest) if recent is not None else (0, now)
    public = all(row.broadcast_id is not None for row in items)
    if public:
        allowed = max(policy.rate_limit_per_minute - sent, 0)
        ready, held = items[:allowed], items[allowed:]
        if held:
            await _wait_for_window(session, held, sent, oldest, now, events)
        return ready
    if recent is not None and now < recent.latest + policy.digest_gather:
        gathered_at = recent.latest + policy.digest_gather
        await _hold(session, items, gathered_at)
        wait = (gathered_at - now).total_seconds()
        events.extend(
            event_values(
                row.id, MessageState.pending, now, f"gathered for a digest: waits {wait:.1f}s"
            )
            for row in items
        )
        return []
    allowed = policy.rate_limit_per_minute - sent
    if len(items) < policy.digest_threshold and len(items) <= max(allowed, 0):
        return items
    chunks = digest_chunks(items, Channel(channel)) if allowed > 0 else []
    ready = [
        await bundle(session, person_id, channel, chunk, now, events) for chunk in chunks[:allowed]
    ]
    held = [row for chunk in chunks[allowed:] for row in chunk] if chunks else items
    if held:
        await _wait_for_window(session, held, sent, oldest, now, events)
    return ready


async def _wait_for_window(
    session: AsyncSession,
    held: list[Row[Any]],
    sent: int,
    oldest: datetime,
    now: datetime,
    events: list[dict[str, Any]],
) -> None:
    # They come due together when the oldest send in the window leaves it, so a backlog
    # goes out in a few digests instead of trickling out for minutes.
    free_at = max((oldest if sent else now) + RATE_WINDOW, now + timedelta(seconds=1))
    await _hold(session, held, free_at)
    wait = int((free_at - now).total_seconds())
    events.extend(
        event_values(row.id, MessageState.pending, now, f"rate limit: waits {wait}s")
        for row in held
    )


async def _hold(session: AsyncSession, items: list[Row[Any]], until: datetime) -> None:
    await session.execute(
        update(MessageRow)
        .where(among(session, MessageRow.id, [row.id for row in items]))
        .values(due_at=until)
        .execution_options(synchronize_session=False)
    )
