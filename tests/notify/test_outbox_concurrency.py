"""The outbox shared between lanes, processes and provider callbacks, on both databases."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from service.app import Dutyd
from service.clock import FrozenClock
from service.notify.outbox import DeliveryPolicy, Outbox, Outcome
from service.notify.status import record_status
from service.notify.tables import MessageRow, MessageState
from service.notify.transport import Receipt
from tests.engine_helpers import start_dutyd


async def queue_messages(dutyd: Dutyd, people: list[str], each: int) -> None:
    """`each` pending SMS per person, due now, interleaved (A1, B1, …, A2, B2, …)."""
    now = dutyd.clock.now()
    rows: list[dict[str, Any]] = [
        {
            "person_id": person,
            "channel": "sms",
            "address": f"+86138{n:04d}{p:04d}",
            "subject": "",
            "body": f"通知 {person} #{n}",
            "state": MessageState.pending,
            "due_at": now,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
        }
        for n in range(each)
        for p, person in enumerate(people)
    ]
    async with dutyd.sessions.begin() as session:
        await session.execute(insert(MessageRow), rows)


async def message(dutyd: Dutyd, message_id: int) -> MessageRow:
    async with dutyd.sessions() as session:
        row = await session.get(MessageRow, message_id)
        assert row is not None
        return row


async def test_messages_in_flight_count_against_the_rate_limit(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A second sender in the same minute sees what the first is still sending."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, outbox_lanes=1)
    try:
        first = dutyd.engine.outbox
        first.policy = DeliveryPolicy(digest_threshold=100, rate_limit_per_minute=1)
        second = Outbox(dutyd.sessions, first.transports, clock, "worker-b", policy=first.policy)
        await queue_messages(dutyd, ["p1"], 1)
        [claimed], _, _ = await first.claim()
        await queue_messages(dutyd, ["p1"], 1)  # one more for the same person, due now
        again, _, seen = await second.claim()
        assert seen == 1 and again == []  # one is in flight: the minute's limit is spent
        held = await message(dutyd, claimed.id + 1)
        assert held.state == MessageState.pending and held.due_at > clock.now()
    finally:
        await dutyd.stop()


async def test_delivery_report_racing_the_senders_record_is_applied(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Twilio reports "undelivered" while the sender is writing down Twilio's id: the report
    waits for that write and is then applied, not dropped. On PostgreSQL it waits for the
    row's lock (a lookup by provider id alone found nothing while the sender's transaction
    was open); on SQLite for the one write connection."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, outbox_lanes=1)
    try:
        outbox = dutyd.engine.outbox
        await queue_messages(dutyd, ["p1"], 1)
        [sms], _, _ = await outbox.claim()
        receipt = Receipt(transport="twilio", provider_id="SM-race", state=MessageState.sent)
        writing, may_commit = asyncio.Event(), asyncio.Event()
        record_accepted = outbox.recorder.accepted

        async def slow_record_accepted(*args: Any) -> None:
            await record_accepted(*args)
            writing.set()  # the row is updated but not committed
            await may_commit.wait()

        outbox.recorder.accepted = slow_record_accepted  # type: ignore[method-assign]
        sender = asyncio.create_task(outbox.record([sms], [Outcome(receipt=receipt)]))
        await asyncio.wait_for(writing.wait(), 10)

        async def report() -> MessageRow | None:
            async with dutyd.sessions.begin() as session:
                return await record_status(
                    session,
                    provider_id="SM-race",
                    status="undelivered",
                    error_code="30003",
                    now=clock.now(),
                    message_id=sms.id,
                )

        callback = asyncio.create_task(report())
        with pytest.raises(TimeoutError):  # it waits for the sender's transaction
            await asyncio.wait_for(asyncio.shield(callback), 0.3)
        may_commit.set()
        await asyncio.wait_for(sender, 10)
        failed = await asyncio.wait_for(callback, 10)
        assert failed is not None and failed.id == sms.id  # so the caller fails it over
        row = await message(dutyd, sms.id)
        assert row.state == MessageState.failed and row.provider_id == "SM-race"
        assert row.sent_at is not None and "30003" in (row.error or "")
    finally:
        await dutyd.stop()


async def test_each_persons_messages_go_through_one_lane(
    tmp_path: Path, postgres_url: str, clock: FrozenClock
) -> None:
    """Lanes (PostgreSQL) never split a person: no two lanes bundle or pace one person."""
    dutyd, _ = await start_dutyd(tmp_path, postgres_url, clock, outbox_lanes=4)
    try:
        outbox = dutyd.engine.outbox
        assert outbox.lanes == 4
        outbox.batch_size = 10
        outbox.policy = DeliveryPolicy(
            digest_threshold=100, rate_limit_per_minute=100, digest_gather=timedelta(0)
        )
        people = [f"p{n}" for n in range(12)]
        await queue_messages(dutyd, people, 5)
        lanes_of: dict[str, set[int]] = defaultdict(set)
        claimed = 0
        for _ in range(10):  # batch after batch, all four lanes at once
            batches = await asyncio.gather(*(outbox.claim(lane) for lane in range(4)))
            for lane, (messages, _, _) in enumerate(batches):
                claimed += len(messages)
                for sms in messages:
                    lanes_of[sms.person_id].add(lane)
            if not any(seen for _, _, seen in batches):
                break
        assert claimed == 60
        assert all(len(lanes) == 1 for lanes in lanes_of.values()), dict(lanes_of)
        assert len(set().union(*lanes_of.values())) > 1  # the work is spread, not one lane
        async with dutyd.sessions() as session:
            left = await session.scalar(
                select(MessageRow.id).where(MessageRow.state == MessageState.pending).limit(1)
            )
        assert left is None
    finally:
        await dutyd.stop()
