"""Heartbeat sources: a check-in recorded; silence past the interval opens an incident for
the unit's duty office; the source's return resolves it; listed with the last check-in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.auth.tokens import Role
from service.incidents.tables import IncidentRow
from tests.api_helpers import api_client
from tests.conftest import Daemon


async def test_silence_opens_an_incident_and_the_return_resolves_it(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    gauge = await api_client(dutyd, Role.source, "rain-gauge-r3")
    desk = await api_client(dutyd, Role.viewer, "desk")
    assert (await gauge.post("/api/v1/intake/heartbeat")).json() == {
        "source": "rain_gauge_r3",
        "resolved_silence": False,
    }
    listed = {s["name"]: s for s in (await desk.get("/api/v1/intake/sources")).json()}
    assert listed["rain_gauge_r3"]["last_check_in"] is not None
    assert (
        listed["rain_gauge_r3"]["silent"] is False
        and listed["alertmanager"]["kind"] == "alertmanager"
    )

    dutyd.clock.advance(timedelta(minutes=9))
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        assert await session.scalar(select(IncidentRow)) is None  # within its interval
    dutyd.clock.advance(timedelta(minutes=2))
    await dutyd.engine.run_due()
    await dutyd.engine.run_due()  # one incident, however many passes see the silence
    async with dutyd.sessions() as session:
        incidents = list(await session.scalars(select(IncidentRow)))
    assert len(incidents) == 1 and incidents[0].unit_id == "hexi"
    assert "rain_gauge_r3 未按时报到" in incidents[0].title
    assert (await desk.get("/api/v1/intake/sources")).json()[-1]["silent"] is True

    back = await gauge.post("/api/v1/intake/heartbeat")
    assert back.json()["resolved_silence"] is True
    async with dutyd.sessions() as session:
        status = await session.scalar(select(IncidentRow.status))
    assert status == "resolved"
    # A token of an Alertmanager source cannot check in for a heartbeat source.
    other = await api_client(dutyd, Role.source, "alertmanager")
    assert (await other.post("/api/v1/intake/heartbeat")).status_code == 422
    for client in (gauge, desk, other):
        await client.aclose()
