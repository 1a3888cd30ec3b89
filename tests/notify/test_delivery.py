"""Delivery that never loses a warning: retries, fail-over, reports, replies, crashes, load."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from service.notify.outbox import DeliveryPolicy, Outbox, Outcome
from service.notify.sms_text import DIGEST_SEGMENTS, segments
from service.notify.tables import MessageEventRow, MessageRow, MessageState
from service.notify.transport import OutgoingMessage
from tests.api_helpers import api_client
from tests.conftest import provider_settings
from tests.engine_helpers import start_dutyd
from tests.fakes.smtp import SmtpServer, free_port
from tests.fakes.twilio import FakeTwilio, twilio_signature
from tests.notify.test_outbox_concurrency import queue_messages
from tests.plan_helpers import write_plan

PUBLIC = "https://dutyd.example.gov.cn"
SUN_LI = "+8613800001102"
SMS_ONLY = """
id: sms-only
kind: master
title: 短信通知
scope: {units: [linjiang]}
defaults:
  escalation:
    steps:
      - notify: [{role: duty_officer}]
        channels: [CHANNELS]
        wait: 10m
      - notify: [{role: office_director}]
        channels: [sms]
        wait: 10m
    after_last: stop
"""
FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


def delivery_settings(
    tmp_path: Path, fake: FakeTwilio, smtp_port: int, channels: str = "sms"
) -> dict[str, Any]:
    """Real Twilio and SMTP transports, and a plan paging the officer on `channels`."""
    plans = write_plan(tmp_path / "plans", "p.yaml", SMS_ONLY.replace("CHANNELS", channels))
    return {
        "plans_dir": plans.parent,
        "public_base_url": PUBLIC,
        "delivery_backoff_seconds": 5,
        "ack_link_secret": "test-ack-secret",
        **provider_settings(fake, _Port(smtp_port)),  # type: ignore[arg-type]
    }


async def make_dutyd(
    tmp_path: Path,
    database_url: str,
    clock: FrozenClock,
    fake: FakeTwilio,
    smtp_port: int,
    channels: str = "sms",
    **overrides: Any,
) -> Dutyd:
    settings = {**delivery_settings(tmp_path, fake, smtp_port, channels), **overrides}
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, record=False, **settings)
    return dutyd


class _Port:
    def __init__(self, port: int) -> None:
        self.port = port


@pytest.fixture
def daemon_settings(
    tmp_path: Path, fake_twilio: FakeTwilio, smtp_server: SmtpServer
) -> dict[str, Any]:
    return delivery_settings(tmp_path, fake_twilio, smtp_server.port)


async def messages(dutyd: Dutyd) -> list[MessageRow]:
    async with dutyd.sessions() as session:
        return list(await session.scalars(select(MessageRow).order_by(MessageRow.id)))


async def claim_due(outbox: Outbox) -> list[OutgoingMessage]:
    """Claim what is due in every lane, as an engine pass does: on PostgreSQL each lane
    holds only its own people's messages (on SQLite lane 0 takes them all)."""
    return [m for lane in range(outbox.lanes) for m in (await outbox.claim(lane)).messages]


async def events(dutyd: Dutyd, message_id: int) -> list[str]:
    async with dutyd.sessions() as session:
        rows = await session.scalars(
            select(MessageEventRow)
            .where(MessageEventRow.message_id == message_id)
            .order_by(MessageEventRow.id)
        )
        return [f"{e.state}: {e.detail}" for e in rows]


async def run_until_quiet(
    dutyd: Dutyd, clock: FrozenClock, step: timedelta, rounds: int = 60
) -> None:
    for _ in range(rounds):
        await dutyd.tick()
        async with dutyd.sessions() as session:
            waiting = await session.scalar(
                select(MessageRow.id)
                .where(MessageRow.state.in_([MessageState.pending, MessageState.sending]))
                .limit(1)
            )
        if waiting is None:
            return
        clock.advance(step)


async def test_transient_failures_are_retried_with_backoff(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """A 500 and a 429 are retried after growing delays (at least the 429's Retry-After);
    the third try goes through."""
    fake_twilio.fail_next += [(500, 20500, "down"), (429, 20429, "slow down")]
    fake_twilio.retry_after = 40
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=FLOOD)
    await dutyd.tick()
    [message] = await messages(dutyd)
    assert message.state == MessageState.pending and message.attempts == 1
    first_retry = message.due_at - clock.now()
    assert timedelta(seconds=2.5) <= first_retry <= timedelta(seconds=5)
    clock.advance(first_retry)
    await dutyd.tick()
    [message] = await messages(dutyd)
    # The jittered backoff would be 5-10 s; Twilio asked for 40.
    assert message.attempts == 2 and message.due_at - clock.now() == timedelta(seconds=40)
    clock.advance(timedelta(seconds=40))
    await dutyd.tick()
    [message] = await messages(dutyd)
    assert message.state == MessageState.sent and len(fake_twilio.sent) == 1
    history = await events(dutyd, message.id)
    assert [h.split(":")[0] for h in history] == [
        "sending",
        "pending",
        "sending",
        "pending",
        "sending",
        "sent",
    ]
    assert "HTTP 500" in history[1] and "HTTP 429" in history[3]


async def test_permanent_failure_fails_over_then_unreachable_once(
    tmp_path: Path, database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Invalid number: no retry; the email goes next; once mail has failed its quick tries
    too, the duty office hears once that the person cannot be reached, while the mail goes
    on being retried for the delivery budget (30 minutes) before it is given up."""
    dead_smtp = free_port()
    dutyd = await make_dutyd(
        tmp_path, database_url, clock, fake_twilio, dead_smtp, delivery_max_attempts=2
    )
    try:
        fake_twilio.fail_next.append((400, 21211, "The 'To' number is not a valid phone number"))
        desk = await api_client(dutyd, Role.duty_officer)
        incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
        await run_until_quiet(dutyd, clock, timedelta(seconds=30), rounds=4)
        rows = await messages(dutyd)
        sms, mail = rows[0], rows[1]
        assert (sms.state, sms.attempts) == (MessageState.failed, 1)
        assert mail.channel == "email" and mail.failover_of == sms.id
        assert mail.state == MessageState.pending and mail.attempts >= 2  # still trying
        assert sorted(r.address for r in rows if "联系不上" in r.body) == [
            "+8613800000102",
            "+8613800000202",
        ]
        await run_until_quiet(dutyd, clock, timedelta(seconds=60), rounds=120)
        rows = await messages(dutyd)
        mail = rows[1]
        assert mail.state == MessageState.failed and mail.attempts > 2
        assert clock.now() - mail.created_at >= timedelta(minutes=30)
        # No going back to the number that already failed.
        assert [r.id for r in rows if r.person_id == "sun_li"] == [sms.id, mail.id]
        notices = sorted(r.address for r in rows if "联系不上" in r.body)
        assert notices == ["+8613800000102", "+8613800000202"]  # the city's duty office
        detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        kinds = [e["kind"] for e in detail["timeline"]]
        assert "failover" in kinds and kinds.count("person_unreachable") == 1
    finally:
        await dutyd.stop()


def signed(path: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "data": params,
        "headers": {"X-Twilio-Signature": twilio_signature(PUBLIC + path, params)},
    }


async def test_status_callbacks_are_signed_and_update_delivery(
    dutyd: Dutyd, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=FLOOD)
    await dutyd.tick()
    sid = fake_twilio.sent[0].sid
    message_id = (await messages(dutyd))[0].id
    assert fake_twilio.sent[0].status_callback == f"{PUBLIC}/twilio/status?m={message_id}"
    forged = await desk.post(
        "/twilio/status",
        data={"MessageSid": sid, "MessageStatus": "failed"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status_code == 403
    assert (await messages(dutyd))[0].state == MessageState.sent
    ok = await desk.post(
        "/twilio/status",
        **signed("/twilio/status", {"MessageSid": sid, "MessageStatus": "delivered"}),
    )
    assert ok.status_code == 204
    [message] = await messages(dutyd)
    assert message.state == MessageState.delivered and message.delivered_at == clock.now()


async def test_report_arriving_before_the_send_is_recorded_is_kept(
    dutyd: Dutyd, fake_twilio: FakeTwilio, smtp_server: SmtpServer
) -> None:
    """Twilio says "undelivered" before dutyd has written down Twilio's id: not dropped."""
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=FLOOD)
    outbox = dutyd.engine.outbox
    [sms] = await claim_due(outbox)
    receipt = await outbox.transports[sms.channel].send(sms)
    callback = fake_twilio.sent[0].status_callback
    assert callback is not None
    path = callback.removeprefix(PUBLIC)
    params = {"MessageSid": receipt.provider_id or "", "MessageStatus": "undelivered"}
    assert (await desk.post(path, **signed(path, params))).status_code == 204
    await outbox.record([sms], [Outcome(receipt=receipt)])  # the sender's answer, later
    [message, failover] = await messages(dutyd)
    assert message.state == MessageState.failed and message.provider_id == receipt.provider_id
    assert message.sent_at is not None and message.transport == "twilio"
    assert failover.channel == "email" and failover.failover_of == message.id
    assert any("report came first" in e for e in await events(dutyd, message.id))
    await dutyd.tick()
    assert [m.recipients for m in smtp_server.received] == [["sun.li@qingshan.example.gov.cn"]]
    assert len(fake_twilio.sent) == 1


async def test_delivered_report_arriving_first_keeps_the_state_and_the_timeline(
    dutyd: Dutyd, fake_twilio: FakeTwilio
) -> None:
    """ "delivered" before dutyd wrote down Twilio's id: delivered, and on the timeline."""
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    outbox = dutyd.engine.outbox
    [sms] = await claim_due(outbox)
    receipt = await outbox.transports[sms.channel].send(sms)
    path = (fake_twilio.sent[0].status_callback or "").removeprefix(PUBLIC)
    params = {"MessageSid": receipt.provider_id or "", "MessageStatus": "delivered"}
    assert (await desk.post(path, **signed(path, params))).status_code == 204
    await outbox.record([sms], [Outcome(receipt=receipt)])
    [message] = await messages(dutyd)
    assert message.state == MessageState.delivered and message.sent_at is not None
    detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert any(
        e["kind"] == "message_sent" and "delivered via twilio" in e["summary"]
        for e in detail["timeline"]
    )


async def test_undelivered_report_fails_over_to_email(
    dutyd: Dutyd, fake_twilio: FakeTwilio, smtp_server: SmtpServer
) -> None:
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=FLOOD)
    await dutyd.tick()
    params = {
        "MessageSid": fake_twilio.sent[0].sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    await desk.post("/twilio/status", **signed("/twilio/status", params))
    await dutyd.tick()
    assert [m.recipients for m in smtp_server.received] == [["sun.li@qingshan.example.gov.cn"]]


async def test_sms_replies_acknowledge_and_escalate(dutyd: Dutyd, clock: FrozenClock) -> None:
    """`2 #id` escalates, `ACK` acknowledges, from the officer's phone; others change nothing."""
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await dutyd.tick()

    async def reply(sender: str, body: str) -> str:
        response = await desk.post(
            "/twilio/sms", **signed("/twilio/sms", {"From": sender, "Body": body})
        )
        assert response.status_code == 200
        return response.text

    assert "not registered" in await reply("+8619999999999", "1")
    assert "回复1确认" in await reply(SUN_LI, "hello")
    assert "没有找到" in await reply("+8613800001301", "1")  # the director was not told yet
    assert f"事件#{incident['id']}已升级" in await reply(SUN_LI, f"2 #{incident['id']}")
    await dutyd.tick()
    assert "已确认" in await reply(SUN_LI, "ACK")
    detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert detail["acknowledged_by"] == "sun_li"
    assert "escalated_now" in [e["kind"] for e in detail["timeline"]]


async def test_voice_call_reads_the_message_and_takes_keys(
    tmp_path: Path,
    database_url: str,
    clock: FrozenClock,
    fake_twilio: FakeTwilio,
    smtp_server: SmtpServer,
) -> None:
    dutyd = await make_dutyd(
        tmp_path, database_url, clock, fake_twilio, smtp_server.port, channels="voice"
    )
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
        await dutyd.tick()
        [call] = fake_twilio.calls
        assert call.to == SUN_LI
        message_id = (await messages(dutyd))[0].id
        assert f'action="{PUBLIC}/twilio/voice/{message_id}"' in call.twiml
        assert call.twiml.count("青山河水位超警戒") == 2 and "按1确认" in call.twiml
        pressed = await desk.post(
            f"/twilio/voice/{message_id}", **signed(f"/twilio/voice/{message_id}", {"Digits": "1"})
        )
        assert "已确认" in pressed.text
        detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert detail["acknowledged_by"] == "sun_li"
    finally:
        await dutyd.stop()


@pytest.mark.parametrize("still_queued", [False, True])
async def test_crash_between_sending_and_sent_is_reconciled(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio, still_queued: bool
) -> None:
    """Twilio accepted the SMS, then the process died: the next one finds it, sends nothing,
    also while Twilio still has it queued (no DateSent yet)."""
    fake_twilio.hold_in_queue = still_queued
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=FLOOD)
    outbox = dutyd.engine.outbox
    claimed = await claim_due(outbox)
    await outbox.transports[claimed[0].channel].send(claimed[0])  # handed over; then the crash
    clock.advance(timedelta(seconds=dutyd.settings.send_lease_seconds + 1))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 1
    [message] = await messages(dutyd)
    assert message.state == MessageState.sent and message.provider_id == fake_twilio.sent[0].sid
    assert any("found already accepted" in e for e in await events(dutyd, message.id))


async def test_digest_bundles_without_dropping_and_rate_limit_delays(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Four incidents at once for one officer: one SMS listing all four; then a pause."""
    desk = await api_client(dutyd, Role.duty_officer)
    titles = [f"险情{n}" for n in range(4)]
    for title in titles:
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": title})
    await dutyd.tick()
    [digest] = fake_twilio.sent
    assert "4条新通知" in digest.body and all(t in digest.body for t in titles)
    rows = await messages(dutyd)
    assert Counter(r.state for r in rows) == {MessageState.bundled: 4, MessageState.sent: 1}
    dutyd.engine.outbox.policy = DeliveryPolicy(digest_threshold=100, rate_limit_per_minute=1)
    await desk.post("/api/v1/incidents", json={**FLOOD, "title": "险情5"})
    await dutyd.tick()
    assert len(fake_twilio.sent) == 1  # one already went this minute: this one waits
    clock.advance(timedelta(minutes=1))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 2 and "险情5" in fake_twilio.sent[1].body


async def test_rate_limited_backlog_goes_out_together_when_the_limit_frees(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Held-back messages wait for the first free slot, then leave as one digest."""
    dutyd.engine.outbox.policy = DeliveryPolicy(digest_threshold=100, rate_limit_per_minute=1)
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json={**FLOOD, "title": "险情0"})
    await dutyd.tick()
    first_sent_at = clock.now()
    assert len(fake_twilio.sent) == 1
    clock.advance(timedelta(seconds=20))
    for n in range(1, 4):
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": f"险情{n}"})
        await dutyd.tick()
        clock.advance(timedelta(seconds=5))
    assert len(fake_twilio.sent) == 1
    waiting = [r for r in await messages(dutyd) if r.state == MessageState.pending]
    # Due when the first SMS leaves the one-minute window, not a minute after each pass.
    assert len(waiting) == 3
    assert {r.due_at for r in waiting} == {first_sent_at + timedelta(minutes=1)}
    clock.advance(timedelta(seconds=25))  # 60 s after the first SMS
    await dutyd.tick()
    assert len(fake_twilio.sent) == 2
    digest = fake_twilio.sent[1].body
    assert "3条新通知" in digest and all(f"险情{n}" in digest for n in range(1, 4))


async def test_big_digests_are_split_to_arrive_whole_and_drop_no_incident(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Thirty incidents at once for one officer: SMS digests short enough not to be cut,
    one now (the rate limit), the rest a minute later, every incident in one of them."""
    dutyd.engine.outbox.policy = DeliveryPolicy(digest_threshold=3, rate_limit_per_minute=1)
    desk = await api_client(dutyd, Role.duty_officer)
    ids = [
        (await desk.post("/api/v1/incidents", json={**FLOOD, "title": f"第{n}号险情"})).json()["id"]
        for n in range(30)
    ]
    await dutyd.tick()
    assert len(fake_twilio.sent) == 1
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await dutyd.tick()
    bodies = [sms.body for sms in fake_twilio.sent]
    assert len(bodies) >= 2
    for body in bodies:  # whole: as many numbered lines as the header says
        count = int(body.split("条新通知", 1)[0])
        assert segments(body) <= DIGEST_SEGMENTS and body.splitlines()[-1].startswith(f"{count}) ")
    listed = [int(i) for body in bodies for i in re.findall(r"#(\d+) ", body)]
    assert sorted(listed) == sorted(ids)  # each incident exactly once
    assert Counter(r.state for r in await messages(dutyd))[MessageState.bundled] == 30
    detail = (await desk.get(f"/api/v1/incidents/{ids[0]}")).json()
    [carried] = detail["messages"]
    assert carried["state"] == "bundled" and carried["digest_of"] is not None
    assert any("(digest)" in entry["summary"] for entry in detail["timeline"])


async def test_a_digest_being_retried_is_never_bundled_again(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """A digest refused once and retried among newer messages keeps its own incidents."""
    dutyd.engine.outbox.policy = DeliveryPolicy(
        digest_threshold=3, rate_limit_per_minute=600, backoff=timedelta(seconds=10)
    )
    desk = await api_client(dutyd, Role.duty_officer)
    first = [f"旧险情{n}" for n in range(4)]
    for title in first:
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": title})
    fake_twilio.fail_next.append((500, 20500, "down"))
    await dutyd.tick()
    assert fake_twilio.sent == []
    later = [f"新险情{n}" for n in range(3)]
    for title in later:
        await desk.post("/api/v1/incidents", json={**FLOOD, "title": title})
    clock.advance(timedelta(seconds=30))
    await dutyd.tick()
    bodies = [sms.body for sms in fake_twilio.sent]
    assert any(all(t in body for t in first) for body in bodies)
    assert any(all(t in body for t in later) for body in bodies)
    assert all("4条新通知" not in body.splitlines()[1:] for body in bodies)


def test_retry_after_is_honoured_up_to_the_longest_backoff() -> None:
    policy = DeliveryPolicy(backoff=timedelta(seconds=10), backoff_max=timedelta(minutes=10))
    rng = random.Random(1)
    assert policy.retry_delay(1, 30, rng) == timedelta(seconds=30)
    assert policy.retry_delay(1, 3600, rng) == timedelta(minutes=10)


async def test_thousand_messages_with_flaky_provider_all_arrive_once(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """30 % of calls to Twilio fail transiently: all 1,000 messages arrive, none twice."""
    dutyd.engine.outbox.policy = DeliveryPolicy(
        max_attempts=30,
        backoff=timedelta(seconds=1),
        digest_threshold=1000,
        rate_limit_per_minute=1000,
    )
    fake_twilio.failure_rate = 0.3
    now = clock.now()
    async with dutyd.sessions.begin() as session:
        for n in range(1000):
            session.add(
                MessageRow(
                    person_id=f"p{n}",
                    channel="sms",
                    address=f"+861390000{n:04d}",
                    body=f"测试消息 {n}",
                    state=MessageState.pending,
                    due_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    await run_until_quiet(dutyd, clock, timedelta(seconds=5), rounds=200)
    bodies = Counter(s.body for s in fake_twilio.sent)
    assert len(bodies) == 1000 and max(bodies.values()) == 1
    assert fake_twilio.requests > 1200  # failures really happened
    assert {r.state for r in await messages(dutyd)} == {MessageState.sent}


async def test_mail_waits_while_the_smtp_server_is_down(
    tmp_path: Path, database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    port = free_port()
    dutyd = await make_dutyd(tmp_path, database_url, clock, fake_twilio, port, channels="email")
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        await desk.post("/api/v1/incidents", json=FLOOD)
        await dutyd.tick()
        clock.advance(timedelta(seconds=10))
        await dutyd.tick()
        [mail] = await messages(dutyd)
        assert mail.state == MessageState.pending and mail.attempts == 2
        server = SmtpServer(port=port)
        server.start()
        try:
            await run_until_quiet(dutyd, clock, timedelta(seconds=30))
            assert [m.recipients for m in server.received] == [["sun.li@qingshan.example.gov.cn"]]
        finally:
            server.stop()
    finally:
        await dutyd.stop()


async def test_mail_outlasts_a_twenty_minute_smtp_outage_and_fails_over_meanwhile(
    tmp_path: Path, database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """With the mail server down for 20 minutes, well past the six quick tries: the text
    goes by SMS after those tries, and the mail itself still arrives once the server is
    back (the 30-minute budget), not given up after two minutes."""
    port = free_port()
    dutyd = await make_dutyd(tmp_path, database_url, clock, fake_twilio, port, channels="email")
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        await desk.post("/api/v1/incidents", json=FLOOD)
        await run_until_quiet(dutyd, clock, timedelta(seconds=60), rounds=20)
        mail, *others = await messages(dutyd)
        assert mail.state == MessageState.pending and mail.attempts > 6
        assert [m.channel for m in others if m.failover_of == mail.id] == ["sms"]
        assert SUN_LI in [s.to for s in fake_twilio.sent]
        server = SmtpServer(port=port)
        server.start()
        try:
            await run_until_quiet(dutyd, clock, timedelta(seconds=60), rounds=15)
            assert [m.recipients for m in server.received] == [["sun.li@qingshan.example.gov.cn"]]
        finally:
            server.stop()
        [mail, *_] = await messages(dutyd)
        assert mail.state == MessageState.sent
    finally:
        await dutyd.stop()


async def test_a_digest_left_sending_by_a_dead_process_is_not_sent_again(
    dutyd: Dutyd, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    """A digest handed to Twilio by a process that then died is taken over like a single
    message: Twilio is asked first, finds it, and it is not sent a second time."""
    outbox = dutyd.engine.outbox
    outbox.policy = DeliveryPolicy(digest_threshold=3, rate_limit_per_minute=100)
    await queue_messages(dutyd, ["sun_li"], 4)
    [digest] = await claim_due(outbox)
    assert digest.incident_id is None and "4条新通知" in digest.body
    await outbox.transports[digest.channel].send(digest)  # handed over; then the crash
    clock.advance(timedelta(seconds=dutyd.settings.send_lease_seconds + 1))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 1
    rows = {row.id: row for row in await messages(dutyd)}
    assert rows[digest.id].state == MessageState.sent
    assert rows[digest.id].provider_id == fake_twilio.sent[0].sid
    assert any("found already accepted" in e for e in await events(dutyd, digest.id))


async def test_a_takeover_is_not_mistaken_for_a_later_message_with_the_same_text(
    dutyd: Dutyd, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    """Message A was claimed by a process that died before sending; B, the same text to the
    same number, went out meanwhile. Taking A over must not record B's SMS as A's (A would
    never arrive): A is sent, and each has its own SID."""
    outbox = dutyd.engine.outbox
    outbox.policy = DeliveryPolicy(digest_threshold=100, rate_limit_per_minute=100)
    same = {"person_id": "sun_li", "address": SUN_LI, "body": "【青山县】第二步：请立即确认"}
    await insert_message(dutyd, **same)
    [first] = await claim_due(outbox)  # claimed; then its process dies before sending
    clock.advance(timedelta(seconds=8))
    await insert_message(dutyd, **same)
    assert await outbox.deliver_due() == 1  # the second goes out, the first is still leased
    clock.advance(timedelta(seconds=dutyd.settings.send_lease_seconds))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 2
    rows = await messages(dutyd)
    assert [r.state for r in rows] == [MessageState.sent, MessageState.sent]
    assert rows[0].id == first.id and rows[0].provider_id != rows[1].provider_id


async def insert_message(dutyd: Dutyd, *, person_id: str, address: str, body: str) -> None:
    now = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        session.add(
            MessageRow(
                person_id=person_id,
                channel="sms",
                address=address,
                subject="",
                body=body,
                state=MessageState.pending,
                due_at=now,
                created_at=now,
                updated_at=now,
                attempts=0,
            )
        )


async def test_a_person_reached_by_sms_is_not_declared_unreachable_when_mail_fails(
    tmp_path: Path, database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    """Paged by SMS and mail at once: the SMS arrives, the mail server is down. When the
    mail's tries are spent there is no contact left, yet the person was reached: no
    【联系不上】 to the duty office, no person_unreachable on the timeline."""
    dutyd = await make_dutyd(
        tmp_path,
        database_url,
        clock,
        fake_twilio,
        free_port(),
        channels="sms, email",
        delivery_max_attempts=2,
        delivery_retry_minutes=0,
    )
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
        await run_until_quiet(dutyd, clock, timedelta(seconds=30))
        rows = await messages(dutyd)
        assert [(r.channel, r.state) for r in rows if r.person_id == "sun_li"] == [
            ("sms", MessageState.sent),
            ("email", MessageState.failed),
        ]
        assert not [r for r in rows if "联系不上" in r.body]
        detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert "person_unreachable" not in [e["kind"] for e in detail["timeline"]]
    finally:
        await dutyd.stop()


async def test_one_hanging_request_does_not_hold_the_others(
    dutyd: Dutyd, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    """Twilio hangs on one request of a batch: the others are recorded sent at once (not
    after the hung one's timeout), and the hung one when it answers."""
    outbox = dutyd.engine.outbox
    outbox.policy = DeliveryPolicy(digest_threshold=100, rate_limit_per_minute=100)
    outbox.record_after = timedelta(seconds=0.2)
    fake_twilio.stall_next, fake_twilio.stall_seconds = 1, 1.5
    for n in range(4):
        await insert_message(dutyd, person_id="sun_li", address=SUN_LI, body=f"通知{n}")
    assert await outbox.deliver_due() == 4
    states = [r.state for r in await messages(dutyd)]
    assert states.count(MessageState.sent) == 3 and states.count(MessageState.sending) == 1
    await outbox.drain(5)
    assert [r.state for r in await messages(dutyd)] == [MessageState.sent] * 4


async def test_a_takeover_finds_its_sms_behind_many_newer_ones(
    dutyd: Dutyd, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    """In a storm an officer gets many SMS: the one a dead process handed over is found
    behind sixty newer ones to the same number (Twilio lists newest first) and not resent."""
    outbox = dutyd.engine.outbox
    await insert_message(dutyd, person_id="sun_li", address=SUN_LI, body="事件#1 第一步")
    [first] = await claim_due(outbox)
    sms = outbox.transports[first.channel]
    await sms.send(first)  # handed over; then the crash
    for n in range(60):
        await sms.send(replace(first, id=10_000 + n, body=f"其他通知{n}"))
    clock.advance(timedelta(seconds=dutyd.settings.send_lease_seconds + 1))
    await dutyd.tick()
    assert [s.body for s in fake_twilio.sent].count("事件#1 第一步") == 1
    [row] = await messages(dutyd)
    assert row.state == MessageState.sent and row.provider_id == fake_twilio.sent[0].sid
