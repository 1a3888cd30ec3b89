"""A storm: 4,000 firing alerts about 40 stations of one county, in 40 requests. Every
accepted alert is in the database, they become 40 incidents (one per station, as the rule
groups them), each with its count and last time, and the duty officer's phone gets a few
digests, not thousands of texts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from service.auth.tokens import Role
from service.incidents.tables import IncidentRow
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.intake.test_alertmanager_webhook import alert, notification

STATIONS = 40
REPEATS = 100


async def test_a_storm_is_forty_incidents_and_digests(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    source = await api_client(dutyd, Role.source, "alertmanager")
    for round_ in range(REPEATS // 10):
        for station in range(STATIONS):
            alerts = [
                alert(f"s{station}-{round_}-{i}", station=f"S{station:02d}") for i in range(10)
            ]
            answer = await source.post("/api/v1/intake/alertmanager", json=notification(*alerts))
            assert answer.status_code == 202
    async with dutyd.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(MachineReportRow))
    assert stored == STATIONS * REPEATS
    await dutyd.engine.run_due()
    for _ in range(20):  # the rate limit holds texts back; the clock moves on
        dutyd.clock.advance(timedelta(minutes=1))
        await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        incidents = list(await session.scalars(select(IncidentRow)))
        left = await session.scalar(
            select(func.count()).where(MachineReportRow.state == "accepted")
        )
    assert len(incidents) == STATIONS and left == 0
    desk = await api_client(dutyd, Role.viewer, "desk")
    detail = (await desk.get(f"/api/v1/incidents/{incidents[0].id}")).json()
    assert detail["machine_reports"]["count"] == REPEATS
    assert daemon.transport is not None
    to_officer = [
        m for m in daemon.transport.sent if m.person_id == "sun_li" and m.channel == "sms"
    ]
    assert 1 <= len(to_officer) <= 12, len(to_officer)  # digests: 40 incidents in a few texts
    assert any("40" in m.body or "条" in m.body for m in to_officer)
    await source.aclose()
    await desk.aclose()
