"""Opting out of public warnings by SMS reply (退订 / STOP), through Twilio's signed
webhook, honoured before the next warning; and back in (订阅 / START)."""

from __future__ import annotations

from service.app import Dutyd
from service.auth.tokens import Role
from service.catalog import Level
from service.flows import warnings as flow
from tests.api_helpers import api_client
from tests.fakes.twilio import FakeTwilio
from tests.notify.test_delivery import daemon_settings, signed  # noqa: F401 - a fixture
from tests.warnings.warning_helpers import (
    COUNTY_HEAD,
    DRAFTER,
    desk,
    hours,
    load_recipients,
    rainstorm,
    recipients_csv,
)


async def warn(dutyd: Dutyd) -> None:
    content = rainstorm(Level.I, ["339901"], dutyd.clock.now() + hours(6))
    async with dutyd.sessions.begin() as session:
        row = await flow.draft_warning(
            session, desk(dutyd), content, unit_id="qingshan", actor=DRAFTER
        )
    async with dutyd.sessions.begin() as session:
        await flow.publish_at_once(session, desk(dutyd), row.id, COUNTY_HEAD, reason="红色")
    await dutyd.tick()
    dutyd.clock.advance(hours(1) / 60)
    await dutyd.tick()


async def test_stop_by_sms_before_the_next_warning(dutyd: Dutyd, fake_twilio: FakeTwilio) -> None:
    await load_recipients(dutyd, recipients_csv(qingshan=3, hexi=0))
    client = await api_client(dutyd, Role.viewer)

    async def reply(sender: str, body: str) -> str:
        answer = await client.post(
            "/twilio/sms", **signed("/twilio/sms", {"From": sender, "Body": body})
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    said = await reply("+8613900000001", "退订")
    assert "您已退订" in said and "+8613900000001" in said
    await warn(dutyd)
    told = {m.to for m in fake_twilio.sent}
    assert told == {"+8613900000000", "+8613900000002"}
    said = await reply("+8613900000001", " START ")
    assert "重新订阅" in said
    fake_twilio.sent.clear()
    await warn(dutyd)
    assert "+8613900000001" in {m.to for m in fake_twilio.sent}
    # A number that is no recipient gets the duty office's help, nothing changes.
    assert "not registered" in await reply("+8613700000000", "STOP")
    await client.aclose()
