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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Row, Select, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.catalog import Channel
from service.clock import Clock
from service.errors import DeliveryFailed
from service.incidents.timeline import SYSTEM_ACTOR, TIMELINE
from service.notify.failover import fail_over
from service.notify.sms_text import DIGEST_SEGMENTS, segments
from service.notify.tables import MessageEventRow, MessageRow, MessageState, state_is
from service.notify.transport import OutgoingMessage, Receipt, Transports
from service.runtime import Runtime
from service.store.bulk import among, insert_rows, update_rows
from service.store.database import is_postgres

log = structlog.get_logger(__name__)

RATE_WINDOW = timedelta(minutes=1)
DIGEST_LINE_CHARS = 60
# Batches are written through Core: the ORM's bulk paths cost more than the database here.
MESSAGES = MessageRow.__table__
EVENTS = MessageEventRow.__table__
RECONCILED = "found already accepted by the provider after a crash"

# What a pass reads of each message: plain rows, not ORM objects, so that a batch costs a
# few statements and no unit of work.
CLAIM_COLUMNS = (
    MessageRow.id,
    MessageRow.incident_id,
    MessageRow.person_id,
    MessageRow.channel,
    MessageRow.address,
    MessageRow.subject,
    MessageRow.body,
    MessageRow.state,
    MessageRow.attempts,
    MessageRow.created_at,
    MessageRow.claimed_by,
    MessageRow.provider_id,
)


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
            # At least what the provider asked for, but no longer than any backoff: a
            # warning must not wait an hour because a provider said so.
            delay = max(delay, min(timedelta(seconds=retry_after), self.backoff_max))
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
    session.add(MessageEventRow(**event_values(message_id, state, at, detail)))


def event_values(message_id: int, state: str, at: datetime, detail: str = "") -> dict[str, Any]:
    return {"message_id": message_id, "at": at, "state": state, "detail": detail}


async def add_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    await insert_rows(session, EVENTS, events)


def outgoing(row: _MessageText, language: str = "zh") -> OutgoingMessage:
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


class _MessageText(Protocol):
    id: int
    channel: str
    address: str
    subject: str
    body: str
    incident_id: int | None
    person_id: str


@dataclass
class Outbox:
    sessions: async_sessionmaker[AsyncSession]
    transports: Transports
    clock: Clock
    worker: str
    runtime: Runtime | None = None
    batch_size: int = 100
    lanes: int = 1
    lease: timedelta = timedelta(seconds=120)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    rng: random.Random = field(default_factory=random.Random)

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
            claimed, stale, seen = await self._claim(lane)
            if not seen:
                break
            seen_any, batches = True, batches + 1
            if claimed:
                outcomes = await asyncio.gather(
                    *(self._send(m, reconcile_since=stale.get(m.id)) for m in claimed)
                )
                await self._record(claimed, outcomes)
                attempted += len(claimed)
        return attempted, seen_any

    def _language(self, person_id: str | None) -> str:
        if self.runtime and person_id in self.runtime.roster.people:
            return self.runtime.roster.people[person_id].language
        return "zh"

    def due_query(self, session: AsyncSession, now: datetime, lane: int = 0) -> Select[Any]:
        """The next batch due in `lane`: pending and due, or sending with an expired lease."""
        query = select(*CLAIM_COLUMNS)
        if self.lanes > 1 and is_postgres(session):
            # Each person's messages go through one lane, so that lanes do not split a
            # person's digest or each spend the person's rate limit. (SQLite has one
            # writer: its lanes take turns anyway.)
            query = query.where(func.abs(func.hashtext(MessageRow.person_id)) % self.lanes == lane)
        return (
            query.where(
                or_(
                    and_(state_is(MessageState.pending), MessageRow.due_at <= now),
                    and_(state_is(MessageState.sending), MessageRow.lease_until < now),
                )
            )
            .order_by(MessageRow.due_at, MessageRow.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _claim(self, lane: int = 0) -> tuple[list[OutgoingMessage], dict[int, datetime], int]:
        """Lease a batch of due messages in a few set-based statements, not a few per row."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            rows = (await session.execute(self.due_query(session, now, lane))).all()
            if not rows:
                return [], {}, 0
            stale: dict[int, datetime] = {}
            ready: list[Row[Any]] = []
            groups: dict[tuple[str, str], list[Row[Any]]] = defaultdict(list)
            digests = await self._digests_among(session, rows)
            for row in rows:
                if row.id in digests:
                    ready.append(row)  # a digest being retried: never bundled again
                elif row.state == MessageState.sending:
                    # Its sender died mid-send: ask the provider before sending again.
                    log.warning("message.lease_expired", message_id=row.id, previous=row.claimed_by)
                    # It cannot have been handed over before it was created.
                    stale[row.id] = row.created_at - timedelta(seconds=5)
                    ready.append(row)
                else:
                    groups[(row.person_id, row.channel)].append(row)
            recent = await self._recent_sends(session, {person for person, _ in groups}, now)
            events: list[dict[str, Any]] = []
            for (person_id, channel), items in groups.items():
                ready.extend(
                    await self._pace(
                        session,
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
                        claimed_by=self.worker,
                        lease_until=now + self.lease,
                        attempts=MessageRow.attempts + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            events.extend(
                event_values(
                    row.id,
                    MessageState.sending,
                    now,
                    f"attempt {row.attempts + 1} by {self.worker}",
                )
                for row in ready
            )
            await add_events(session, events)
            return (
                [outgoing(row, self._language(row.person_id)) for row in ready],
                stale,
                len(rows),
            )

    async def _recent_sends(
        self, session: AsyncSession, people: set[str], now: datetime
    ) -> dict[tuple[str, str], tuple[int, datetime]]:
        """How many messages went to each person on each channel in the last minute,
        counting those another lane or process is sending right now."""
        if not people:
            return {}
        window = now - RATE_WINDOW
        counted: dict[tuple[str, str], tuple[int, datetime]] = {}
        for when, condition in (
            (MessageRow.sent_at, MessageRow.sent_at > window),
            (
                MessageRow.updated_at,
                and_(state_is(MessageState.sending), MessageRow.updated_at > window),
            ),
        ):
            rows = await session.execute(
                select(MessageRow.person_id, MessageRow.channel, func.count(), func.min(when))
                .where(among(session, MessageRow.person_id, people), condition)
                .group_by(MessageRow.person_id, MessageRow.channel)
            )
            for person, channel, count, oldest in rows:
                before = counted.get((person, channel))
                counted[(person, channel)] = (
                    (count, oldest)
                    if before is None
                    else (before[0] + count, min(before[1], oldest))
                )
        return counted

    async def _digests_among(self, session: AsyncSession, rows: Sequence[Row[Any]]) -> set[int]:
        """Which of these rows are digests (some message was bundled into them)."""
        candidates = [row.id for row in rows if row.incident_id is None]
        if not candidates:
            return set()
        return set(
            await session.scalars(
                select(MessageRow.digest_of)
                .where(among(session, MessageRow.digest_of, candidates))
                .distinct()
            )
        )

    async def _pace(
        self,
        session: AsyncSession,
        person_id: str,
        channel: str,
        items: list[Row[Any]],
        recent: tuple[int, datetime] | None,
        now: datetime,
        events: list[dict[str, Any]],
    ) -> list[Row[Any]]:
        """Apply the per-person rate limit and bundle many messages into digests."""
        sent, oldest = recent if recent is not None else (0, now)
        allowed = self.policy.rate_limit_per_minute - sent
        if len(items) < self.policy.digest_threshold and len(items) <= max(allowed, 0):
            return items
        chunks = digest_chunks(items, Channel(channel)) if allowed > 0 else []
        ready = [
            await self._bundle(session, person_id, channel, chunk, now, events)
            for chunk in chunks[:allowed]
        ]
        held = [row for chunk in chunks[allowed:] for row in chunk] if chunks else items
        if held:
            # They come due together when the oldest send in the window leaves it, so a
            # backlog goes out in a few digests instead of trickling out for minutes.
            free_at = max((oldest if sent else now) + RATE_WINDOW, now + timedelta(seconds=1))
            await session.execute(
                update(MessageRow)
                .where(among(session, MessageRow.id, [row.id for row in held]))
                .values(due_at=free_at)
                .execution_options(synchronize_session=False)
            )
            wait = int((free_at - now).total_seconds())
            events.extend(
                event_values(row.id, MessageState.pending, now, f"rate limit: waits {wait}s")
                for row in held
            )
        return ready

    async def _bundle(
        self,
        session: AsyncSession,
        person_id: str,
        channel: str,
        items: list[Row[Any]],
        now: datetime,
        events: list[dict[str, Any]],
    ) -> Row[Any]:
        """One digest message standing for `items`, which become `bundled`."""
        digest = (
            await session.execute(
                insert(MessageRow)
                .values(
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
                    attempts=0,
                )
                .returning(*CLAIM_COLUMNS)
            )
        ).one()
        ids = [row.id for row in items]
        await session.execute(
            update(MessageRow)
            .where(among(session, MessageRow.id, ids))
            .values(state=MessageState.bundled, digest_of=digest.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        events.extend(
            event_values(i, MessageState.bundled, now, f"bundled into digest #{digest.id}")
            for i in ids
        )
        log.info("message.digest", person=person_id, channel=channel, messages=len(items))
        return digest

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
        """Record a batch's results: accepted ones set-based, failures one by one."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
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
                    await self._record_reported_first(session, row, receipt, now)
                elif receipt is not None:
                    accepted.append((row, outcome, receipt))
                else:
                    failed.append((row.id, outcome))
            if accepted:
                await self._record_accepted(session, accepted, now)
            for message_id, outcome in failed:
                row = await session.get(MessageRow, message_id)
                assert row is not None  # locked above
                await self._record_one(session, row, outcome, now)

    async def _record_reported_first(
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
        if row.state == MessageState.delivered:  # a failure was put on the timeline already
            await self._note_result(
                session, row, now, f"delivered via {receipt.transport} ({receipt.provider_id})"
            )

    async def _record_accepted(
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
        digests = [row.id for row, _, _ in accepted if row.incident_id is None]
        bundled = await self._bundled_incidents(session, digests)
        events, entries = [], []
        for row, outcome, receipt in accepted:
            how = (
                "found already accepted by the provider after a crash" if outcome.reconciled else ""
            )
            events.append(
                event_values(
                    row.id,
                    receipt.state,
                    now,
                    f"{receipt.transport} {receipt.provider_id or ''} {how}".strip(),
                )
            )
            entries.extend(
                result_entries(
                    row,
                    bundled.get(row.id, []),
                    now,
                    f"{receipt.state} via {receipt.transport}"
                    + (f" ({receipt.provider_id})" if receipt.provider_id else "")
                    + (" [reconciled]" if outcome.reconciled else ""),
                )
            )
            log.info(
                "message.sent", message_id=row.id, channel=row.channel, transport=receipt.transport
            )
        await add_events(session, events)
        await insert_rows(session, TIMELINE, entries)

    async def _bundled_incidents(
        self, session: AsyncSession, digest_ids: list[int]
    ) -> dict[int, list[int]]:
        """The incidents each digest message was about, in the order they were bundled."""
        if not digest_ids:
            return {}
        about: dict[int, list[int]] = defaultdict(list)
        for digest_id, incident_id in await session.execute(
            select(MessageRow.digest_of, MessageRow.incident_id)
            .where(
                among(session, MessageRow.digest_of, digest_ids),
                MessageRow.incident_id.is_not(None),
            )
            .order_by(MessageRow.id)
        ):
            if incident_id not in about[digest_id]:
                about[digest_id].append(incident_id)
        return about

    async def _record_one(
        self, session: AsyncSession, row: MessageRow, outcome: Outcome, now: datetime
    ) -> None:
        row.lease_until, row.updated_at = None, now
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
        self, session: AsyncSession, row: _MessageText, now: datetime, what: str
    ) -> None:
        """Put the result on the timeline of each incident the message was about."""
        bundled = await self._bundled_incidents(
            session, [row.id] if row.incident_id is None else []
        )
        await insert_rows(
            session, TIMELINE, result_entries(row, bundled.get(row.id, []), now, what)
        )


def result_entries(
    message: _MessageText, bundled: list[int], now: datetime, what: str
) -> list[dict[str, Any]]:
    """Timeline entries for a message's result: its incident's, or each bundled incident's."""
    incidents = [message.incident_id] if message.incident_id is not None else bundled
    digest = " (digest)" if message.incident_id is None and incidents else ""
    return [
        {
            "incident_id": incident_id,
            "at": now,
            "kind": "message_sent" if "FAILED" not in what else "message_failed",
            "actor": SYSTEM_ACTOR,
            "summary": f"{message.channel} to {message.address}{digest} {what}",
            "data": {"message_id": message.id},
        }
        for incident_id in incidents
    ]


def digest_body(items: Sequence[_MessageText]) -> str:
    """Every bundled message keeps a line: an incident is never dropped from a digest."""
    lines = [f"{len(items)}条新通知 / {len(items)} new notifications:"]
    for n, row in enumerate(items, start=1):
        first = row.body.strip().splitlines()[0] if row.body.strip() else row.subject
        code = f"#{row.incident_id} " if row.incident_id is not None else ""
        lines.append(f"{n}) {code}{first[:DIGEST_LINE_CHARS]}")
    return "\n".join(lines)


def digest_chunks(items: list[Row[Any]], channel: Channel) -> list[list[Row[Any]]]:
    """Split into digests short enough to arrive whole: an SMS (or call) digest is at most
    DIGEST_SEGMENTS long, so it is never cut; a mail digest carries everything."""
    if channel is Channel.email:
        return [items]
    chunks: list[list[Row[Any]]] = [[]]
    for row in items:
        if chunks[-1] and segments(digest_body([*chunks[-1], row])) > DIGEST_SEGMENTS:
            chunks.append([])
        chunks[-1].append(row)
    return chunks
