"""Reports passed up the levels of government (逐级上报): each hop has its own recipient,
its own responsible office and its own deadline, counted from when that office learned
of the event. The sample production-safety plan: the county writes to the city within
1 hour; the city to the province within 2 hours of the county's report."""

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
    "title": "河西县城关镇仓库火灾",
}


def hops(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["hop"]: d for d in detail["reports"] if d["kind"] == "hop"}


async def test_each_hop_counts_from_when_its_office_learned(
    daemon: Daemon, clock: FrozenClock
) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    created = await desk.post("/api/v1/incidents", json=FIRE)
    assert created.status_code == 201, created.text
    incident = created.json()
    path = f"/api/v1/incidents/{incident['id']}"
    learned = datetime.fromisoformat(incident["learned_at"])

    # Only the first hop is owed at once: the city has not been told yet.
    first = hops(incident)
    assert list(first) == ["county-to-city"]
    assert datetime.fromisoformat(first["county-to-city"]["due_at"]) == learned + timedelta(hours=1)
    assert first["county-to-city"]["name"] == "向临江市人民政府总值班室值班员报告"
    assert "河西县人民政府值班室值班员" in first["county-to-city"]["responsible"]

    # The county reports 50 minutes in; the city learned of it then: 2 hours from now.
    clock.advance(timedelta(minutes=50))
    made = await desk.post(
        f"{path}/reports", json={"kind": "hop", "hop": "county-to-city", "content": "书面报告"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["late"] is False
    detail = (await desk.get(path)).json()
    second = hops(detail)["city-to-province"]
    assert datetime.fromisoformat(second["due_at"]) == clock.now() + timedelta(hours=2)
    assert second["name"] == "向江南省人民政府总值班室报告"
    assert "临江市人民政府总值班室值班员" in second["responsible"]
    due = next(e for e in detail["timeline"] if "city-to-province" in str(e["data"]))
    assert "that office learned of it now" in due["summary"]

    # Both hops in the list of open duties, each by its name; the second goes late.
    listed = (await desk.get("/api/v1/reports/open")).json()
    assert [d["duty"]["hop"] for d in listed if d["incident_id"] == incident["id"]].count(
        "city-to-province"
    ) == 1
    clock.advance(timedelta(hours=2, minutes=1))
    await dutyd.tick()
    overdue = (await desk.get("/api/v1/reports/overdue")).json()
    late = [d["duty"] for d in overdue if d["incident_id"] == incident["id"]]
    assert [d["hop"] for d in late if d["kind"] == "hop"] == ["city-to-province"]
    detail = (await desk.get(path)).json()
    late_entries = [e["summary"] for e in detail["timeline"] if e["kind"] == "report_late"]
    assert any("report to 江南省人民政府总值班室" in e for e in late_entries), late_entries

    # A hop not owed is refused by name; the last hop, made, opens nothing more.
    refused = await desk.post(
        f"{path}/reports", json={"kind": "hop", "hop": "to-the-moon", "content": "x"}
    )
    assert refused.status_code == 422 and "to-the-moon" in refused.text
    made = await desk.post(f"{path}/reports", json={"kind": "hop", "content": "报省"})
    assert made.status_code == 201 and made.json()["late"] is True
    detail = (await desk.get(path)).json()
    assert {h: d["state"] for h, d in hops(detail).items()} == {
        "county-to-city": "submitted",
        "city-to-province": "submitted",
    }
    await desk.aclose()


async def test_a_raise_keeps_the_hops_already_made(daemon: Daemon, clock: FrozenClock) -> None:
    """Raised after the county reported: the county's hop is not asked for again, and the
    city's hop is owed from the raise (it already knows), not from the start."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.leader)
    incident = (await desk.post("/api/v1/incidents", json=FIRE)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    clock.advance(timedelta(minutes=20))
    await desk.post(f"{path}/reports", json={"kind": "hop", "content": "报市"})
    clock.advance(timedelta(minutes=30))
    raised = await desk.post(f"{path}/level", json={"level": "II", "reason": "火势蔓延"})
    assert raised.status_code == 200, raised.text
    detail = (await desk.get(path)).json()
    open_hops = [d for d in detail["reports"] if d["kind"] == "hop" and d["state"] == "open"]
    assert [d["hop"] for d in open_hops] == ["city-to-province"]
    assert datetime.fromisoformat(open_hops[0]["due_at"]) == clock.now() + timedelta(hours=2)
    await desk.aclose()
