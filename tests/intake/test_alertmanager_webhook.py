"""Alertmanager's webhook: alerts committed before the answer, mapped by the sample rules,
deduplicated by group into one counted incident, resolved when the alert resolves; the
wrong token, a garbage body and a flood beyond the rate limit refused with nothing stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from service.auth.tokens import Role
from service.incidents.tables import IncidentRow
from service.intake.reports import reports_per_incident
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
from tests.conftest import Daemon

WATER = {
    "alertname": "WaterLevelHigh",
    "event_type": "flood",
    "unit": "qingshan",
    "severity": "critical",
}


def notification(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="WaterLevelHigh"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "dutyd",
        "groupLabels": {"alertname": "WaterLevelHigh"},
        "commonLabels": {},
        "commonAnnotations": {"summary": "青山河水位超过警戒线0.5米"},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {**WATER, **labels},
        "annotations": {},
        "startsAt": "2026-07-15T02:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


async def counts(daemon: Daemon) -> tuple[int, int]:
    async with daemon.dutyd.sessions() as session:
        reports = await session.scalar(select(func.count()).select_from(MachineReportRow))
        incidents = await session.scalar(select(func.count()).select_from(IncidentRow))
    return int(reports or 0), int(incidents or 0)


async def test_alerts_become_one_counted_incident_and_resolve_it(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    source = await api_client(dutyd, Role.source, "alertmanager")
    sent = await source.post(
        "/api/v1/intake/alertmanager",
        json=notification(alert("a1", station="S17"), alert("a2", station="S17")),
    )
    assert sent.status_code == 202 and sent.json() == {"source": "alertmanager", "accepted": 2}
    assert await counts(daemon) == (2, 0)  # committed before the answer; worked after
    await dutyd.engine.run_due()
    again = await source.post(
        "/api/v1/intake/alertmanager", json=notification(alert("a1", station="S17"))
    )
    assert again.status_code == 202
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        incidents = list(await session.scalars(select(IncidentRow)))
        assert len(incidents) == 1
        incident = incidents[0]
        assert (incident.unit_id, incident.event_type, incident.level) == (
            "qingshan",
            "flood",
            "II",
        )
        assert incident.title == "S17水位超警戒" and incident.reporter == "source:alertmanager"
        count, _ = (await reports_per_incident(session, [incident.id]))[incident.id]
        assert count == 3
    assert daemon.transport is not None and daemon.transport.sent  # the plan's first pages

    # Another station is another incident; the first one's resolution resolves it.
    await source.post("/api/v1/intake/alertmanager", json=notification(alert("b1", station="S18")))
    resolved = notification(alert("a1", status="resolved", station="S17"), status="resolved")
    assert (await source.post("/api/v1/intake/alertmanager", json=resolved)).status_code == 202
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        states = dict((await session.execute(select(IncidentRow.title, IncidentRow.status))).all())
    assert states == {"S17水位超警戒": "resolved", "S18水位超警戒": "reported"}
    await source.aclose()


async def test_refusals_store_nothing(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    source = await api_client(dutyd, Role.source, "alertmanager")
    stranger = await api_client(dutyd, Role.source, "some-other-machine")
    officer = await api_client(dutyd, Role.duty_officer, "desk")
    body = notification(alert("x1"))
    refused = await stranger.post("/api/v1/intake/alertmanager", json=body)
    assert refused.status_code == 422 and "reports for no source" in refused.text
    assert (await officer.post("/api/v1/intake/alertmanager", json=body)).status_code == 403
    # A source token reads nothing back.
    assert (await source.get("/api/v1/incidents")).status_code == 403
    for garbage in ({"version": "3", "alerts": []}, {"version": "4"}, [1, 2]):
        answer = await source.post("/api/v1/intake/alertmanager", json=garbage)
        assert answer.status_code == 422, answer.text
    not_json = await source.post(
        "/api/v1/intake/alertmanager",
        content=b"<xml/>",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422
    assert await counts(daemon) == (0, 0)

    # Over its rate limit a source is told to come back, and nothing of it is stored.
    dutyd.intake_rules.sources["alertmanager"].rate_per_minute = 3
    dutyd.intake_pace.buckets.clear()
    first = await source.post(
        "/api/v1/intake/alertmanager", json=notification(alert("r1"), alert("r2"), alert("r3"))
    )
    assert first.status_code == 202
    flood = await source.post("/api/v1/intake/alertmanager", json=notification(alert("r4")))
    assert flood.status_code == 429 and int(flood.headers["retry-after"]) >= 1
    assert (await counts(daemon))[0] == 3
    for client in (source, stranger, officer):
        await client.aclose()


async def test_an_alert_no_rule_maps_is_recorded_and_ignored(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    source = await api_client(dutyd, Role.source, "alertmanager")
    odd = alert("z1")
    odd["labels"] = {"alertname": "DiskFull"}  # no unit: no rule matches
    assert (
        await source.post("/api/v1/intake/alertmanager", json=notification(odd))
    ).status_code == 202
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        row = await session.scalar(select(MachineReportRow))
    assert row is not None and row.state == "ignored" and "no rule" in row.detail
    assert (await counts(daemon))[1] == 0
    await source.aclose()


async def test_a_source_s_own_silence(daemon: Daemon) -> None:
    """A silence on the source's dedup keys: its alerts are recorded, and page nobody."""
    dutyd = daemon.dutyd
    admin = await api_client(dutyd, Role.admin, "admin")
    source = await api_client(dutyd, Role.source, "alertmanager")
    ends = (dutyd.clock.now() + timedelta(hours=2)).isoformat()
    made = await admin.post(
        "/api/v1/silences",
        json={"dedup_key_prefix": "alertmanager:", "reason": "水位站检修", "ends_at": ends},
    )
    assert made.status_code == 201, made.text
    await source.post("/api/v1/intake/alertmanager", json=notification(alert("s1", station="S9")))
    await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        incident = await session.scalar(select(IncidentRow))
    assert incident is not None and incident.silence_id is not None
    assert daemon.transport is not None and daemon.transport.sent == []
    await admin.aclose()
    await source.aclose()
