"""Incidents through their life: dedup, silences, status moves, level changes, escalation tools."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from service.escalation.tables import EscalationStepRow, StepState
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.engine_helpers import count, start_dutyd
from tests.fakes.recording import RecordingTransport
from tests.plan_helpers import write_plan

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}
OFFICE_DIRECTOR, MAYOR, CITY_OFFICER = "+8613800001301", "+8613800000001", "+8613800000102"
CITY_LEADER = "+8613800000202"  # chen_gang, the city's leader on shift on the test day


def sms(transport: RecordingTransport, since: int = 0) -> list[str]:
    return [m.address for m in transport.sent[since:] if m.channel.value == "sms"]


async def test_dedup_key_updates_the_open_incident(
    daemon: Daemon,
) -> None:
    """A second machine report with the same key updates the incident and pages nobody again."""
    dutyd, transport = daemon
    hook = await api_client(dutyd, Role.duty_officer, name="hydrology-sensor")
    body = {**FLOOD, "source": "webhook", "dedup_key": "gauge-17", "casualties": {"evacuated": 40}}
    first = await hook.post("/api/v1/incidents", json=body)
    assert first.status_code == 201
    await dutyd.tick()
    sent = len(transport.sent)
    again = await hook.post(
        "/api/v1/incidents",
        json={**body, "description": "水位+0.3m", "casualties": {"evacuated": 120}},
    )
    assert again.status_code == 200 and again.json()["deduplicated"] is True
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["casualties"]["evacuated"] == 120
    assert "水位+0.3m" in again.json()["description"]
    await dutyd.tick()
    assert len(transport.sent) == sent
    assert [e["kind"] for e in again.json()["timeline"]].count("duplicate_report") == 1
    # A worse level in a repeated report raises the incident: the mayor is now told.
    raised = await hook.post("/api/v1/incidents", json={**body, "level": "I"})
    assert raised.json()["level"] == "I" and raised.json()["deduplicated"]
    await dutyd.tick()
    assert MAYOR in sms(transport, sent)


async def test_silence_records_but_pages_nobody(daemon: Daemon) -> None:
    dutyd, _transport = daemon
    leader = await api_client(dutyd, Role.leader)
    silence = await leader.post(
        "/api/v1/silences",
        json={
            "unit": "qingshan",
            "category": "natural_disaster",
            "reason": "水文站检修",
            "ends_at": (dutyd.clock.now() + timedelta(hours=4)).isoformat(),
        },
    )
    assert silence.status_code == 201
    machine = await leader.post("/api/v1/incidents", json={**FLOOD, "source": "automated"})
    assert machine.status_code == 201
    assert machine.json()["silenced"] is True and machine.json()["messages"] == []
    assert "水文站检修" in machine.json()["timeline"][-1]["summary"]
    person = await leader.post("/api/v1/incidents", json={**FLOOD, "source": "phone"})
    assert person.json()["silenced"] is False and person.json()["messages"]
    ended = await leader.delete(f"/api/v1/silences/{silence.json()['id']}")
    assert ended.json()["expired_at"] is not None
    after = await leader.post("/api/v1/incidents", json={**FLOOD, "source": "automated"})
    assert after.json()["silenced"] is False
    bad = await leader.post(
        "/api/v1/silences", json={"reason": "x", "ends_at": "2026-08-01T00:00:00Z"}
    )
    assert bad.status_code == 422


async def test_status_moves_and_their_rules(daemon: Daemon) -> None:
    """responding acknowledges; resolved stops escalation and opens the final report."""
    dutyd, _transport = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    url = f"/api/v1/incidents/{incident['id']}"
    responding = (await desk.post(f"{url}/status", json={"status": "responding"})).json()
    assert responding["status"] == "responding" and responding["acknowledged_at"]
    resolved = (
        await desk.post(f"{url}/status", json={"status": "resolved", "note": "水位回落"})
    ).json()
    assert resolved["resolved_at"]
    detail = (await desk.get(url)).json()
    final = [r for r in detail["reports"] if r["kind"] == "final"]
    assert len(final) == 1 and final[0]["state"] == "open"
    assert await count(dutyd, EscalationStepRow, EscalationStepRow.state == StepState.pending) == 0
    closed = await desk.post(f"{url}/status", json={"status": "closed"})
    assert closed.json()["status"] == "closed"
    refused = await desk.post(f"{url}/status", json={"status": "responding"})
    assert refused.status_code == 422 and "is closed" in refused.json()["detail"][0]["msg"]
    kinds = [e["kind"] for e in (await desk.get(url)).json()["timeline"]]
    assert kinds.count("status_changed") == 3


async def test_level_raise_in_the_middle_of_an_escalation(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """II → I after 5 minutes: the old chain stops, level I's people are paged and told at
    once, and the tighter level-I deadlines replace the old ones, counted from the raise
    (when the office learned of the new level)."""
    dutyd, transport = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await dutyd.tick()
    before = len(transport.sent)
    clock.advance(timedelta(minutes=5))
    raised = await desk.post(
        f"/api/v1/incidents/{incident['id']}/level",
        json={"level": "I", "reason": "溃口扩大，下游村庄进水"},
    )
    assert raised.status_code == 200 and raised.json()["level"] == "I"
    await dutyd.tick()
    assert MAYOR in sms(transport, before)  # level I tells the city's head at once
    detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
    due = {(r["kind"], r["state"]): r["due_at"] for r in detail["reports"]}
    learned = detail["learned_at"]
    from datetime import datetime

    raised_at = datetime.fromisoformat(learned) + timedelta(minutes=5)
    assert datetime.fromisoformat(due[("initial", "open")]) - raised_at == timedelta(minutes=15)
    assert ("initial", "cancelled") in due
    # The old level-II step 2 (due at 10 minutes) never fires; the new chain's does.
    steps = await _steps(dutyd)
    assert [(s.generation, s.step_index, s.state) for s in steps][:2] == [
        (0, 0, "fired"),
        (0, 1, "cancelled"),
    ]
    clock.advance(timedelta(minutes=10))
    await dutyd.tick()
    assert OFFICE_DIRECTOR in sms(transport, before)
    kinds = [
        e["kind"]
        for e in (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()["timeline"]
    ]
    assert "level_changed" in kinds and "replanned" in kinds


async def _steps(dutyd: Dutyd) -> list[Any]:
    async with dutyd.sessions() as session:
        return list(await session.scalars(select(EscalationStepRow).order_by(EscalationStepRow.id)))


async def test_category_correction_replans(daemon: Daemon) -> None:
    dutyd, _ = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    changed = await desk.post(
        f"/api/v1/incidents/{incident['id']}/category",
        json={"category": "natural_disaster", "event_type": "geological", "reason": "实为山体滑坡"},
    )
    assert changed.json()["plan_id"] == "linjiang-geological"
    wrong = await desk.post(
        f"/api/v1/incidents/{incident['id']}/category",
        json={"category": "public_health", "event_type": "geological", "reason": "x"},
    )
    assert wrong.status_code == 422


async def test_escalate_now(daemon: Daemon) -> None:
    """The next step fires at once; with nothing left to escalate to, a clear refusal."""
    dutyd, transport = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await dutyd.tick()
    before = len(transport.sent)
    assert (await desk.post(f"/api/v1/incidents/{incident['id']}/escalate")).status_code == 200
    await dutyd.tick()
    assert sms(transport, before) == [OFFICE_DIRECTOR]
    await desk.post(f"/api/v1/incidents/{incident['id']}/ack")
    refused = await desk.post(f"/api/v1/incidents/{incident['id']}/escalate")
    assert refused.status_code == 422 and "acknowledged" in refused.json()["detail"][0]["msg"]


GAP_AND_RENOTIFY = """
id: gaps
kind: master
title: 缺口与重新通知
scope: {units: [linjiang]}
defaults:
  escalation:
    steps:
      - notify: [{role: foreign_liaison}]
        channels: [sms]
        wait: 10m
      - notify: [{role: duty_officer}]
        channels: [sms]
        wait: 10m
    after_last: stop
    renotify_after: 1h
"""


async def test_coverage_gap_skips_and_tells_the_duty_office(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Qingshan has no foreign-affairs liaison: step 1 is skipped at once, the city's duty
    office (its duty officer and leader on shift) is told."""
    plans = write_plan(tmp_path / "plans", "p.yaml", GAP_AND_RENOTIFY)
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans.parent)
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
        await dutyd.tick()
        assert sorted(sms(transport)) == sorted([CITY_OFFICER, CITY_LEADER, "+8613800001102"])
        for address in (CITY_OFFICER, CITY_LEADER):
            gap = next(m for m in transport.sent if m.address == address)
            assert "值班缺口" in gap.body and "foreign_liaison" in gap.body
        kinds = [
            e["kind"]
            for e in (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()["timeline"]
        ]
        assert "coverage_gap" in kinds

        # Acknowledged but not resolved within an hour: paged again from the start.
        await desk.post(f"/api/v1/incidents/{incident['id']}/ack")
        await dutyd.tick()
        before = len(transport.sent)
        clock.advance(timedelta(hours=1))
        await dutyd.tick()
        again = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert again["status"] == "reported" and again["acknowledged_at"] is None
        assert "+8613800001102" in sms(transport, before)
        assert "ack_expired" in [e["kind"] for e in again["timeline"]]
        await desk.aclose()
    finally:
        await dutyd.stop()
