"""Casualties pick the level: figures that reach a plan's threshold raise the incident
(production safety, `on_crossing: raise`) or put the level to the officer (road traffic,
`ask`), on the timeline either way; a change of figures owes a follow-up where the plan
says so (road traffic III/IV: within the hour)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.auth.tokens import Role
from service.clock import FrozenClock
from tests.api_helpers import api_client
from tests.conftest import Daemon

FIRE = {
    "category": "accident_disaster",
    "event_type": "fire",
    "level": "IV",
    "unit": "hexi",
    "title": "河西县化工厂火灾",
}
ROAD = {
    "category": "accident_disaster",
    "event_type": "road_traffic",
    "level": "IV",
    "unit": "hexi",
    "title": "S206省道货车侧翻",
}


def figures(**counts: int) -> dict[str, Any]:
    return {"casualties": counts, "note": "县消防大队电话报告"}


def kinds(detail: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in detail["timeline"]]


async def test_figures_past_a_threshold_raise_the_level(daemon: Daemon, clock: FrozenClock) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=FIRE)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    assert incident["level"] == "IV"

    clock.advance(timedelta(minutes=10))
    two = await desk.post(f"{path}/casualties", json=figures(deaths=2))
    assert two.status_code == 200 and two.json()["level"] == "IV"  # below III's 3 deaths

    three = await desk.post(f"{path}/casualties", json=figures(deaths=3, seriously_injured=4))
    assert three.status_code == 200, three.text
    assert three.json()["level"] == "III"
    detail = (await desk.get(path)).json()
    assert detail["casualties"]["deaths"] == 3 and detail["casualties"]["seriously_injured"] == 4
    change = next(e for e in detail["timeline"] if e["kind"] == "level_changed")
    assert "3 deaths reach level III" in change["summary"] and change["data"]["to"] == "III"
    updated = [e for e in detail["timeline"] if e["kind"] == "casualties_updated"]
    assert "deaths 2→3" in updated[-1]["summary"] and "县消防大队" in updated[-1]["summary"]

    # 60 seriously injured reach level II by the second figure alone.
    raised = await desk.post(f"{path}/casualties", json=figures(deaths=3, seriously_injured=60))
    assert raised.json()["level"] == "II"
    # The same figures again change nothing and say so on no timeline.
    before = len((await desk.get(path)).json()["timeline"])
    await desk.post(f"{path}/casualties", json=figures(deaths=3, seriously_injured=60))
    assert len((await desk.get(path)).json()["timeline"]) == before
    # Lower figures (a correction) never lower the level on their own.
    corrected = await desk.post(f"{path}/casualties", json=figures(deaths=1))
    assert corrected.json()["level"] == "II"
    await desk.aclose()


async def test_an_incident_reported_with_heavy_casualties_starts_at_their_level(
    daemon: Daemon,
) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    created = await desk.post(
        "/api/v1/incidents", json={**FIRE, "casualties": {"deaths": 12}, "losses": "厂房烧毁"}
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["level"] == "II"
    note = next(e for e in incident["timeline"] if e["kind"] == "level_changed")
    assert "not the level IV reported" in note["summary"]
    assert incident["losses"] == "厂房烧毁"
    await desk.aclose()


async def test_the_officer_is_asked_when_the_plan_says_ask(
    daemon: Daemon, clock: FrozenClock
) -> None:
    dutyd, transport = daemon
    assert transport is not None
    desk = await api_client(dutyd, Role.duty_officer)
    created = await desk.post("/api/v1/incidents", json={**ROAD, "casualties": {"deaths": 4}})
    incident = created.json()
    path = f"/api/v1/incidents/{incident['id']}"
    assert incident["level"] == "IV"  # not raised: the plan asks
    assert incident["proposed_level"] == "III"
    assert "4 deaths reach level III" in incident["proposed_reason"]
    assert "level_proposed" in kinds(incident)
    await dutyd.tick()
    asked = [m.body for m in transport.sent if "【级别建议】" in m.body]
    assert asked and "死亡4人" in asked[0] and "III级标准" in asked[0]

    # The same proposal is not put twice; the officer confirms by raising the level.
    await desk.post(f"{path}/casualties", json=figures(deaths=5))
    detail = (await desk.get(path)).json()
    assert kinds(detail).count("level_proposed") == 1
    raised = await desk.post(f"{path}/level", json={"level": "III", "reason": "核实死亡5人"})
    assert raised.status_code == 200
    assert raised.json()["proposed_level"] is None
    await desk.aclose()


async def test_a_change_of_figures_owes_a_follow_up_within_the_hour(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """Road traffic IV: a daily follow-up, and one within the hour of new figures; the
    next one owed is brought forward, numbered as before (续报一)."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=ROAD)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    followups = [d for d in incident["reports"] if d["kind"] == "followup"]
    assert len(followups) == 1 and followups[0]["name"] == "续报一"
    assert datetime.fromisoformat(followups[0]["due_at"]) > clock.now() + timedelta(hours=6)

    clock.advance(timedelta(hours=3))
    await desk.post(f"{path}/casualties", json=figures(injured=2))
    detail = (await desk.get(path)).json()
    followups = [d for d in detail["reports"] if d["kind"] == "followup" and d["state"] == "open"]
    assert [d["name"] for d in followups] == ["续报一"]
    assert datetime.fromisoformat(followups[0]["due_at"]) == clock.now() + timedelta(hours=1)
    assert any(
        e["kind"] == "reports_due" and e["summary"].startswith("casualty figures changed")
        for e in detail["timeline"]
    )

    # Made; then a level change owes the next one within the hour too: 续报二.
    await desk.post(f"{path}/reports", json={"kind": "followup", "content": "续报：伤2人"})
    clock.advance(timedelta(minutes=10))
    await desk.post(f"{path}/level", json={"level": "III", "reason": "死亡3人"})
    detail = (await desk.get(path)).json()
    followups = [d for d in detail["reports"] if d["kind"] == "followup" and d["state"] == "open"]
    assert [d["name"] for d in followups] == ["续报二"]
    assert datetime.fromisoformat(followups[0]["due_at"]) == clock.now() + timedelta(hours=1)
    await desk.aclose()


async def test_bad_figures_are_refused_by_field(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=ROAD)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    negative = await desk.post(f"{path}/casualties", json=figures(deaths=-1))
    assert negative.status_code == 422 and "deaths" in negative.text
    unknown = await desk.post(f"{path}/casualties", json=figures(dead=3))
    assert unknown.status_code == 422 and "dead" in unknown.text
    nowhere = await desk.post("/api/v1/incidents/999999/casualties", json=figures(deaths=1))
    assert nowhere.status_code == 404
    await desk.aclose()
