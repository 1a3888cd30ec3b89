"""A storm: 4,000 firing alerts about 40 stations of one county, in 40 requests. Every
accepted alert is in the database, they become 40 incidents (one per station, as the rule
groups them), each with its count and last time, and the duty officer's phone gets a few
digests, not thousands of texts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from service.auth.tokens import Role
from service.flows.intake import work_reports
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


async def test_new_incidents_are_opened_a_few_a_transaction(daemon: Daemon) -> None:
    """Twelve stations at once: the engine opens five incidents, commits (their pages can
    go), then the next five; nothing is left accepted once it has drained."""
    dutyd = daemon.dutyd
    source = await api_client(dutyd, Role.source, "alertmanager")
    alerts = [alert(f"new-{n}", station=f"N{n:02d}") for n in range(12)]
    answer = await source.post("/api/v1/intake/alertmanager", json=notification(*alerts))
    assert answer.status_code == 202
    rules = dutyd.engine.intake_rules
    assert rules is not None
    async with dutyd.sessions.begin() as session:
        work, worked = await work_reports(
            session,
            rules=rules(),
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
            limit=500,
            max_opened=5,
        )
    assert (work.opened, worked) == (5, 5)
    async with dutyd.sessions() as session:
        opened = await session.scalar(select(func.count()).select_from(IncidentRow))
        left = await session.scalar(
            select(func.count()).where(MachineReportRow.state == "accepted")
        )
    assert (opened, left) == (5, 7)
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        opened = await session.scalar(select(func.count()).select_from(IncidentRow))
        states = dict(
            (
                await session.execute(
                    select(MachineReportRow.state, func.count()).group_by(MachineReportRow.state)
                )
            ).all()
        )
    assert opened == 12 and states == {"done": 12}
    await source.aclose()
