"""The walking skeleton's whole scenario, through the real API, providers and database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from service.api.app import create_api
from service.app import Dutyd
from service.auth.tokens import Role, create_token
from service.clock import FrozenClock
from tests.conftest import provider_settings
from tests.fakes.smtp import SmtpServer
from tests.fakes.twilio import FROM_NUMBER, FakeTwilio

# On 2026-07-15 (the test clock's day) Qingshan's rotations give these people:
OFFICER = ("+8613800001102", "sun.li@qingshan.example.gov.cn")  # 孙丽
LEADER = ("+8613800001202", "wu.hua@qingshan.example.gov.cn")  # 吴华
DIRECTOR = ("+8613800001301", "zheng.hao@qingshan.example.gov.cn")  # 郑浩, office director
# The city flood command (the water bureau's leader and duty officer) is told at once.
FLOOD_COMMAND = [
    ("+8613800003202", "jiang.tao@water.linjiang.example.gov.cn"),  # 江涛, leader on shift
    ("+8613800003102", "qian.lei@water.linjiang.example.gov.cn"),  # 钱磊, duty officer
]
AT_ONCE = [OFFICER, LEADER, *FLOOD_COMMAND]

FLOOD_REPORT = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超过警戒线1.2米",
    "location": "青山县城关镇",
}


@pytest.fixture
def daemon_settings(fake_twilio: FakeTwilio, smtp_server: SmtpServer) -> dict[str, Any]:
    return provider_settings(fake_twilio, smtp_server)


async def api_client(dutyd: Dutyd, role: Role = Role.duty_officer) -> httpx.AsyncClient:
    async with dutyd.sessions.begin() as session:
        token = await create_token(
            session, name=f"{role.value}-desk", role=role, now=dutyd.clock.now()
        )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
        base_url="http://dutyd.test",
        headers={"Authorization": f"Bearer {token}"},
    )


def sms_to(fake_twilio: FakeTwilio) -> list[str]:
    return sorted(s.to for s in fake_twilio.sent)


def mail_to(smtp_server: SmtpServer) -> list[str]:
    return sorted(r for mail in smtp_server.received for r in mail.recipients)


async def test_incident_escalates_until_acknowledged(
    dutyd: Dutyd, clock: FrozenClock, fake_twilio: FakeTwilio, smtp_server: SmtpServer
) -> None:
    """Report → first step to officer and leader → next step after the wait → ack stops it."""
    client = await api_client(dutyd)

    response = await client.post("/api/v1/incidents", json=FLOOD_REPORT)
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["plan_id"] == "qingshan-flood"
    await dutyd.tick()

    assert sms_to(fake_twilio) == sorted(phone for phone, _ in AT_ONCE)
    assert mail_to(smtp_server) == sorted(mail for _, mail in AT_ONCE)
    assert all(s.sender == FROM_NUMBER for s in fake_twilio.sent)
    assert all(FLOOD_REPORT["title"] in s.body for s in fake_twilio.sent)
    assert all("·防汛】" in s.body for s in fake_twilio.sent)  # the flood plan's own template
    mail = smtp_server.received[0].message
    assert FLOOD_REPORT["title"] in mail["Subject"]
    assert mail["Message-ID"]

    # The county plan waits 10 minutes: nothing happens a minute before that.
    clock.advance(timedelta(minutes=9))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 4 and len(smtp_server.received) == 4

    clock.advance(timedelta(minutes=1, seconds=1))
    await dutyd.tick()
    assert sms_to(fake_twilio) == sorted(phone for phone, _ in [*AT_ONCE, DIRECTOR])
    assert mail_to(smtp_server) == sorted(mail for _, mail in [*AT_ONCE, DIRECTOR])

    # The director reads the page and the desk acknowledges a couple of minutes later.
    clock.advance(timedelta(minutes=2))
    response = await client.post(f"/api/v1/incidents/{incident['id']}/ack")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == "duty_officer-desk"
    await dutyd.tick()
    # Everyone paged so far learns who acknowledged, by SMS; the flood command was only told.
    notices = fake_twilio.sent[5:]
    assert sorted(s.to for s in notices) == sorted([OFFICER[0], LEADER[0], DIRECTOR[0]])
    assert all("已由duty_officer-desk确认" in s.body for s in notices)

    # The duty officer makes the initial and written reports before their deadlines.
    for kind in ("initial", "written"):
        made = await client.post(
            f"/api/v1/incidents/{incident['id']}/reports",
            json={"kind": kind, "content": "水位继续上涨，已组织转移群众120人。"},
        )
        assert made.status_code == 201 and made.json()["late"] is False

    # Long past every remaining wait: no further message goes out.
    clock.advance(timedelta(hours=3))
    await dutyd.tick()
    assert len(fake_twilio.sent) == 8
    assert len(smtp_server.received) == 5
    assert fake_twilio.requests == 8

    detail = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds[:4] == ["reported", "plan_selected", "step_fired", "notified"]
    assert kinds.count("step_fired") == 2
    assert kinds.count("message_sent") == 13
    assert kinds.count("report_submitted") == 2 and "report_late" not in kinds
    assert kinds.index("acknowledged") > kinds.index("step_fired")
    assert {(m["channel"], m["state"], m["transport"]) for m in detail["messages"]} == {
        ("sms", "sent", "twilio"),
        ("email", "sent", "smtp"),
    }
    twilio_sids = {s.sid for s in fake_twilio.sent}
    assert {m["provider_id"] for m in detail["messages"] if m["channel"] == "sms"} == twilio_sids
    await client.aclose()


async def test_acknowledging_twice_changes_nothing(dutyd: Dutyd) -> None:
    """A second acknowledgement keeps the first one's time and author."""
    client = await api_client(dutyd)
    incident = (await client.post("/api/v1/incidents", json=FLOOD_REPORT)).json()
    first = (await client.post(f"/api/v1/incidents/{incident['id']}/ack")).json()
    dutyd.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    second = (await client.post(f"/api/v1/incidents/{incident['id']}/ack")).json()
    assert second["acknowledged_at"] == first["acknowledged_at"]
    detail = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert [e["kind"] for e in detail["timeline"]].count("acknowledged") == 1
    await client.aclose()
