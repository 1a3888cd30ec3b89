"""A generic JSON webhook signed with its source's shared secret: accepted and mapped when
signed and fresh; a bad signature, a stale timestamp, an unknown source and a malformed
body refused with nothing stored; a retry with the same idempotency key stored once."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from service.incidents.tables import IncidentRow
from service.intake.signatures import sign
from service.intake.tables import MachineReportRow
from tests.conftest import Daemon

SECRET = "a shared secret of the hydrological platform"
RAIN = {
    "alerts": [
        {
            "labels": {"kind": "rainfall", "unit": "hexi", "station": "R3", "level": "orange"},
            "annotations": {"summary": "R3站1小时雨量62毫米"},
        }
    ]
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUTYD_INTAKE_SECRET_HYDRO_PLATFORM", SECRET)


def signed(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "X-Dutyd-Timestamp": str(timestamp),
        "X-Dutyd-Signature": sign(secret.encode(), str(timestamp), body),
    }


async def stored(daemon: Daemon) -> int:
    async with daemon.dutyd.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MachineReportRow)) or 0)


async def test_signed_reports_in_and_forged_ones_out(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    from service.api.app import create_api

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
        base_url="http://dutyd.test",
    )
    url = "/api/v1/intake/webhook/hydro_platform"
    now = int(dutyd.clock.now().timestamp())
    body = json.dumps(RAIN, ensure_ascii=False).encode()

    for headers, why in (
        (signed(body, now, secret="a guess"), "does not match"),
        (signed(body, now - 600), "from now"),
        ({"content-type": "application/json"}, "needs X-Dutyd-Timestamp"),
    ):
        refused = await client.post(url, content=body, headers=headers)
        assert refused.status_code == 401 and why in refused.text, refused.text
    tampered = body.replace(b"orange", b"red")
    assert (await client.post(url, content=tampered, headers=signed(body, now))).status_code == 401
    garbage = b'{"alerts": [{"labels": {}}]}'
    assert (
        await client.post(url, content=garbage, headers=signed(garbage, now))
    ).status_code == 422
    unknown = await client.post(
        "/api/v1/intake/webhook/nobody", content=body, headers=signed(body, now)
    )
    assert unknown.status_code == 404
    assert await stored(daemon) == 0

    first = await client.post(
        url, content=body, headers={**signed(body, now), "Idempotency-Key": "k1"}
    )
    assert first.status_code == 202 and first.json()["accepted"] == 1
    retry = await client.post(
        url, content=body, headers={**signed(body, now), "Idempotency-Key": "k1"}
    )
    assert retry.status_code == 202
    assert await stored(daemon) == 1
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        incident = await session.scalar(select(IncidentRow))
    assert incident is not None
    assert (incident.unit_id, incident.event_type, incident.level, incident.title) == (
        "hexi",
        "meteorological",
        "II",
        "R3雨量站雨量超标",
    )
    await client.aclose()
