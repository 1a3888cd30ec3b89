"""Hostile and mistaken requests get a 4xx saying what is wrong and where, never a 500,
and nothing stored is changed by them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from tests.api_helpers import api_client
from tests.conftest import make_settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

HUGE = 2**63  # beyond any row id (32-bit on PostgreSQL, 64-bit on SQLite)
PUBLIC = "https://dutyd.example.gov.cn"
FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


@pytest.fixture
async def desk(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[Dutyd, httpx.AsyncClient]]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        public_base_url=PUBLIC,
        # Twilio's webhooks are checked against its auth token; nothing is sent here.
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base_url="http://127.0.0.1:9",
    )
    dutyd = Dutyd(settings, clock=clock)
    await dutyd.start()
    client = await api_client(dutyd, Role.admin)
    try:
        yield dutyd, client
    finally:
        await client.aclose()
        await dutyd.stop()


def signed(path: str, params: dict[str, str]) -> dict[str, object]:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, params)
    return {"data": params, "headers": {"X-Twilio-Signature": signature}}


async def test_ids_and_page_sizes_out_of_range_are_refused(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """Ids beyond 64 bits, and page sizes that are huge, zero or negative, answer 422."""
    _, client = desk
    for method, path in (
        ("GET", f"/api/v1/incidents/{HUGE}"),
        ("POST", f"/api/v1/incidents/{HUGE}/ack"),
        ("POST", f"/api/v1/incidents/{HUGE}/escalate"),
        ("GET", f"/api/v1/roster/versions/{HUGE}"),
        ("POST", f"/api/v1/roster/versions/{HUGE}/restore"),
        ("DELETE", f"/api/v1/silences/{HUGE}"),
        ("GET", "/api/v1/incidents?limit=-1"),
        ("GET", "/api/v1/incidents?limit=0"),
        ("GET", f"/api/v1/incidents?limit={HUGE}"),
        ("GET", "/api/v1/roster/versions?limit=100000"),
    ):
        answer = await client.request(method, path)
        assert answer.status_code in (404, 405, 422), (path, answer.status_code, answer.text)
        assert answer.status_code != 405 or method == "DELETE"
    assert (await client.get(f"/api/v1/incidents/{2**31 - 1}")).status_code == 404
    assert (await client.get(f"/api/v1/incidents/{2**31}")).status_code == 422


async def test_numbers_and_text_that_are_not_what_they_claim_are_refused(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """NaN and infinite coordinates, a lone surrogate in the title, deep nesting: 422 with
    the place named; nothing is stored."""
    _, client = desk
    headers = {"content-type": "application/json"}
    for bad, where in (
        ('{"latitude": NaN}', "latitude"),
        ('{"longitude": Infinity}', "longitude"),
        ('{"title": "\\ud800 水位"}', "title"),
        ('{"description": "水位\\u0000"}', "description: contains a NUL character"),
        ('{"intake": {"reporter_name": "\\u0000"}}', "intake.reporter_name"),
    ):
        body = json.dumps(FLOOD)[:-1] + ", " + bad[1:]
        answer = await client.post("/api/v1/incidents", content=body, headers=headers)
        assert answer.status_code == 422, answer.text
        assert where in answer.text
    for query in ("q=%00", "q=%E6%B0%B4%00"):
        answer = await client.get(f"/api/v1/incidents?{query}")
        assert answer.status_code == 422 and "NUL" in answer.text, answer.text
    deep = '{"a":' * 40 + "1" + "}" * 40
    answer = await client.post("/api/v1/incidents", content=deep, headers=headers)
    assert answer.status_code == 422 and "nested deeper" in answer.text
    assert (await client.get("/api/v1/incidents")).json() == []


async def test_a_body_too_large_is_refused_before_it_is_read_whole(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """A 10 MB JSON body answers 413, whether it says its length or streams in."""
    _, client = desk
    big = b'{"title": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    answer = await client.post(
        "/api/v1/incidents", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413 and "larger than" in answer.text

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    answer = await client.put("/api/v1/roster/duty-table.csv", content=chunks())
    assert answer.status_code == 413


async def test_a_duty_table_that_is_not_utf8_is_refused(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """GBK bytes instead of UTF-8: 422 saying so, and the roster keeps its version."""
    _, client = desk
    csv = "unit,role,date,person\nqingshan,duty_officer,2026-07-20,孙丽\n".encode("gbk")
    answer = await client.put("/api/v1/roster/duty-table.csv", content=csv)
    assert answer.status_code == 422 and "UTF-8" in answer.text
    assert (await client.get("/api/v1/roster")).json()["version"] == 1


async def test_damaged_acknowledgement_links_are_refused_plainly(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """Links with a non-ASCII signature, or an expiry out of range: 403, no secret needed."""
    dutyd, client = desk
    good = dutyd.ack_links.token(1, "he_jing", dutyd.clock.now())
    incident, person, expires, _ = good.split(".")
    for token in (
        f"{incident}.{person}.{expires}.é",
        f"{incident}.{person}.{10**30}.{good.split('.')[3]}",
        "1.he_jing",
        "x.y.z.w.v",
    ):
        for method in ("GET", "POST"):
            answer = await client.request(method, f"/ack/{token}")
            assert answer.status_code == 403, (token, answer.text)


async def test_signed_twilio_webhooks_with_huge_numbers_change_nothing(
    desk: tuple[Dutyd, httpx.AsyncClient],
) -> None:
    """A reply naming an incident number beyond any id, a status callback or a call for a
    message id beyond any id: answered without a 500."""
    _, client = desk
    reply = await client.post(
        "/twilio/sms", **signed("/twilio/sms", {"From": "+8613800001102", "Body": f"1 #{HUGE}"})
    )
    assert reply.status_code == 200 and "1 #12" in reply.text  # the help text
    status = await client.post(
        f"/twilio/status?m={HUGE}",
        **signed(f"/twilio/status?m={HUGE}", {"MessageSid": "SM1", "MessageStatus": "failed"}),
    )
    assert status.status_code == 422
    call = await client.post(f"/twilio/voice/{HUGE}", **signed(f"/twilio/voice/{HUGE}", {}))
    assert call.status_code == 422


async def test_learned_at_long_ago_is_refused_unless_confirmed_and_owes_no_backlog(
    desk: tuple[Dutyd, httpx.AsyncClient], clock: FrozenClock
) -> None:
    """A year-old learned_at is refused (422 naming it); confirmed, it owes each report
    once, late, not a follow-up for every day since; resolving withdraws what is queued."""
    dutyd, client = desk
    year_ago = (clock.now() - timedelta(days=365)).isoformat()
    refused = await client.post("/api/v1/incidents", json={**FLOOD, "learned_at": year_ago})
    assert refused.status_code == 422 and "learned_at" in refused.text
    before = await client.post(
        "/api/v1/incidents",
        json={**FLOOD, "learned_at": clock.now().isoformat(), "occurred_at": year_ago},
    )
    assert before.status_code == 201  # learned now of something that happened long ago
    after = await client.post(
        "/api/v1/incidents",
        json={
            **FLOOD,
            "title": "后知",
            "occurred_at": clock.now().isoformat(),
            "learned_at": (clock.now() - timedelta(hours=1)).isoformat(),
        },
    )
    assert after.status_code == 422 and "before occurred_at" in after.text
    confirmed = await client.post(
        "/api/v1/incidents",
        json={**FLOOD, "title": "补录", "learned_at": year_ago, "confirm_learned_at": True},
    )
    assert confirmed.status_code == 201, confirmed.text
    incident_id = confirmed.json()["id"]
    for _ in range(3):
        await dutyd.tick()
    detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    followups = [d for d in detail["reports"] if d["kind"] == "followup"]
    assert len(followups) <= 2, followups  # one late, the next owed from now on
    assert all(d["due_at"] > clock.now().isoformat() for d in followups if not d["late"])
    assert len(detail["messages"]) < 30
    # The rate limit holds some back; resolving withdraws them, nobody is paged for nothing.
    resolved = await client.post(
        f"/api/v1/incidents/{incident_id}/status", json={"status": "resolved"}
    )
    assert resolved.status_code == 200
    detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert not [m for m in detail["messages"] if m["state"] == "pending"]
