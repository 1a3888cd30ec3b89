"""A burst of incidents reaches an officer as a digest, not as the minute's first texts
followed by a minute's wait for the rest."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from service.notify.broadcasts import BroadcastMessage, OpenGate, queue_broadcast
from service.notify.outbox import DeliveryPolicy
from service.notify.tables import MessageState
from tests.api_helpers import api_client
from tests.fakes.smtp import SmtpServer
from tests.fakes.twilio import FakeTwilio
from tests.notify.test_delivery import FLOOD, delivery_settings, events, messages


async def queue_broadcast_of(
    session: AsyncSession, broadcasts: tuple[int, ...], phone: str, now: datetime
) -> None:
    for broadcast_id in broadcasts:
        text = f"预警{broadcast_id}全文"
        await queue_broadcast(
            session, broadcast_id, [BroadcastMessage(1, "sms", phone, text, now)], now
        )


@pytest.fixture
def daemon_settings(
    tmp_path: Path, fake_twilio: FakeTwilio, smtp_server: SmtpServer
) -> dict[str, Any]:
    return delivery_settings(tmp_path, fake_twilio, smtp_server.port)


async def test_incidents_right_after_a_page_are_gathered_into_one_digest(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """The first incident pages at once; three more in the next half second wait for the
    gathering window and leave as one digest, well inside the rate limit."""
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json={**FLOOD, "title": "险情0"})
    await dutyd.tick()
    assert len(fake_twilio.sent) == 1 and "险情0" in fake_twilio.sent[0].body
    first_sent_at = clock.now()

    clock.advance(timedelta(seconds=0.2))
    for n in range(1, 4):
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": f"险情{n}"})
        await dutyd.tick()
    assert len(fake_twilio.sent) == 1  # gathered, not sent one by one
    waiting = [r for r in await messages(dutyd) if r.state == MessageState.pending]
    assert len(waiting) == 3
    assert {r.due_at for r in waiting} == {first_sent_at + timedelta(seconds=0.5)}
    assert any("gathered for a digest" in e for e in await events(dutyd, waiting[0].id))

    clock.advance(timedelta(seconds=0.3))
    await dutyd.tick()
    [_, digest] = fake_twilio.sent
    assert "3条新通知" in digest.body and all(f"险情{n}" in digest.body for n in range(1, 4))
    states = Counter(r.state for r in await messages(dutyd))
    assert states == {MessageState.sent: 2, MessageState.bundled: 3}


async def test_a_page_after_the_window_goes_at_once(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Gathering only holds what comes right after a message: a later page is not delayed."""
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json={**FLOOD, "title": "险情0"})
    await dutyd.tick()
    clock.advance(timedelta(seconds=0.6))
    await desk.post("/api/v1/incidents", json={**FLOOD, "title": "险情1"})
    await dutyd.tick()
    assert [("险情1" in sms.body) for sms in fake_twilio.sent] == [False, True]


async def test_a_lone_page_is_never_held(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """With nothing sent to the officer lately, the first page of a storm goes on the first
    pass; and gathering set to zero sends each page as it comes, within the rate limit."""
    dutyd.engine.outbox.policy = DeliveryPolicy(digest_gather=timedelta(0))
    desk = await api_client(dutyd, Role.duty_officer)
    for n in range(2):
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": f"险情{n}"})
        await dutyd.tick()
        assert len(fake_twilio.sent) == n + 1 and f"险情{n}" in fake_twilio.sent[n].body


async def test_public_warnings_are_never_gathered_nor_bundled_only_held(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """A member of the public under several warnings at once gets each whole, as issued (a
    digest would cut them to a line and could not be withdrawn by a lift); past the rate
    limit they wait, as a person's pages do."""
    phone = "+8613900000001"
    dutyd.engine.outbox.gate = OpenGate()  # no warnings here to be lifted: the outbox alone

    async def issue(*broadcasts: int) -> None:
        async with dutyd.sessions.begin() as session:
            await queue_broadcast_of(session, broadcasts, phone, clock.now())

    await issue(1, 2, 3)
    await dutyd.tick()
    assert [sms.body for sms in fake_twilio.sent] == [f"预警{n}全文" for n in (1, 2, 3)]
    clock.advance(timedelta(seconds=0.2))  # inside a person's gathering window
    await issue(4, 5, 6, 7, 8)
    await dutyd.tick()
    assert [sms.body for sms in fake_twilio.sent][3:] == [f"预警{n}全文" for n in (4, 5, 6)]
    waiting = [r for r in await messages(dutyd) if r.state == MessageState.pending]
    assert sorted(r.broadcast_id for r in waiting) == [7, 8]
    for row in waiting:
        assert any("rate limit" in event for event in await events(dutyd, row.id))
    assert not any(r.state == MessageState.bundled for r in await messages(dutyd))
