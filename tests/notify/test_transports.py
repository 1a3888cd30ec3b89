"""Transports report failures as retryable or not, through the real client libraries."""

from __future__ import annotations

import pytest

from service.catalog import Channel
from service.clock import FrozenClock
from service.config import SmtpSecurity
from service.errors import DeliveryFailed
from service.notify.smtp_email import SmtpEmailTransport
from service.notify.transport import OutgoingMessage
from service.notify.twilio_sms import TwilioClient, TwilioSmsTransport, call_twiml
from tests.fakes.smtp import SmtpServer, free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

SMS = OutgoingMessage(id=7, channel=Channel.sms, address="+8613800000101", subject="", body="测试")
MAIL = OutgoingMessage(
    id=8, channel=Channel.email, address="a@example.org", subject="主题", body="正文"
)


def twilio(fake: FakeTwilio, token: str = AUTH_TOKEN) -> TwilioSmsTransport:
    client = TwilioClient(account_sid=ACCOUNT_SID, auth_token=token, api_base_url=fake.url)
    return TwilioSmsTransport(client, from_number=FROM_NUMBER, messaging_service_sid=None)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(500, 20500, True), (429, 20429, True), (503, 20503, True), (400, 21211, False)],
)
async def test_twilio_errors_are_classified(
    fake_twilio: FakeTwilio, status: int, code: int, retryable: bool
) -> None:
    """5xx and 429 may be retried; an invalid number (21211) may not."""
    fake_twilio.fail_next.append((status, code, "refused"))
    transport = twilio(fake_twilio)
    try:
        with pytest.raises(DeliveryFailed) as failure:
            await transport.send(SMS)
        assert failure.value.retryable is retryable
        assert str(status) in failure.value.reason
        assert failure.value.retry_after == (fake_twilio.retry_after if status == 429 else None)
        receipt = await transport.send(SMS)  # the next call goes through
        assert receipt.provider_id == fake_twilio.sent[0].sid
    finally:
        await transport.close()


async def test_twilio_bad_credentials_are_permanent(fake_twilio: FakeTwilio) -> None:
    transport = twilio(fake_twilio, token="wrong")
    try:
        with pytest.raises(DeliveryFailed) as failure:
            await transport.send(SMS)
        assert failure.value.retryable is False
        assert fake_twilio.sent == []
    finally:
        await transport.close()


def smtp(port: int, clock: FrozenClock) -> SmtpEmailTransport:
    return SmtpEmailTransport(
        host="127.0.0.1",
        port=port,
        security=SmtpSecurity.none,
        username=None,
        password=None,
        sender="dutyd@linjiang.example.gov.cn",
        timeout_seconds=5,
        clock=clock,
    )


async def test_smtp_delivers_utf8_mail(smtp_server: SmtpServer, clock: FrozenClock) -> None:
    transport = smtp(smtp_server.port, clock)
    receipt = await transport.send(MAIL)
    [mail] = smtp_server.received
    assert mail.recipients == ["a@example.org"]
    assert mail.message["Subject"] == "主题"
    assert mail.message.get_body(preferencelist=("plain",)).get_content().strip() == "正文"
    assert (
        receipt.provider_id
        == mail.message["Message-ID"].strip()
        == "<dutyd.message.8@linjiang.example.gov.cn>"
    )


async def test_smtp_server_down_is_retryable(clock: FrozenClock) -> None:
    transport = smtp(free_port(), clock)
    with pytest.raises(DeliveryFailed) as failure:
        await transport.send(MAIL)
    assert failure.value.retryable is True


async def test_twilio_timeout_is_retryable(fake_twilio: FakeTwilio) -> None:
    """A provider that does not answer in time: retryable, and nothing recorded as sent."""
    fake_twilio.stall_next, fake_twilio.stall_seconds = 1, 1.0
    client = TwilioClient(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_base_url=fake_twilio.url,
        timeout_seconds=0.2,
    )
    transport = TwilioSmsTransport(client, from_number=FROM_NUMBER, messaging_service_sid=None)
    try:
        with pytest.raises(DeliveryFailed) as failure:
            await transport.send(SMS)
        assert failure.value.retryable is True
    finally:
        await transport.close()


def test_a_voice_digest_is_read_without_asking_for_keys() -> None:
    """Keys answer one incident; a digest is about several, so its call only reads it."""
    about_one = OutgoingMessage(
        id=9,
        channel=Channel.voice,
        address="+8613800000101",
        subject="",
        body="河水漫堤",
        incident_id=3,
    )
    digest = OutgoingMessage(
        id=10,
        channel=Channel.voice,
        address="+8613800000101",
        subject="2条新通知",
        body="2条新通知：1) #3 河水漫堤 2) #4 山体滑坡",
    )
    incident_call = call_twiml(about_one, "https://dutyd.example/twilio/voice/9")
    assert "<Gather" in incident_call and "按1确认" in incident_call
    digest_call = call_twiml(digest, "https://dutyd.example/twilio/voice/10")
    assert "<Gather" not in digest_call and "按1" not in digest_call
    assert digest_call.count("山体滑坡") == 2
