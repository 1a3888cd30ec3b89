"""Rules as the duty office lives them: deadlines after a raise count from the raise;
closing an incident settles every report it still owes."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.auth.tokens import Role
from service.clock import FrozenClock
from tests.api_helpers import api_client
from tests.conftest import Daemon

ROAD = {
    "category": "accident_disaster",
    "event_type": "road_traffic",
    "level": "III",
    "unit": "hexi",
    "title": "G318国道多车相撞",
}


async def test_a_raise_counts_new_deadlines_from_the_raise(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """Raised III -> I 40 minutes in: the new initial report (15 minutes at level I) is due
    15 minutes after the raise, not 25 minutes before it; nothing is late at once."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    incident = (await desk.post("/api/v1/incidents", json=ROAD)).json()
    clock.advance(timedelta(minutes=40))
    raised = await desk.post(
        f"/api/v1/incidents/{incident['id']}/level", json={"level": "I", "reason": "死亡4人"}
    )
    assert raised.status_code == 200, raised.text
    await dutyd.tick()
    detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
    open_initial = [d for d in detail["reports"] if d["kind"] == "initial" and d["state"] == "open"]
    assert open_initial, detail["reports"]
    for duty in open_initial:
        assert datetime.fromisoformat(duty["due_at"]) == clock.now() + timedelta(minutes=15)
    assert "report_late" not in [e["kind"] for e in detail["timeline"]]
    await desk.aclose()


async def test_closing_settles_every_open_report(daemon: Daemon, clock: FrozenClock) -> None:
    """Closed with reports unmade: one past its deadline is recorded missing (漏报) against
    its responsible person, one not yet due is cancelled; `report overdue` lists neither."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.leader)
    incident = (await desk.post("/api/v1/incidents", json=ROAD)).json()
    path = f"/api/v1/incidents/{incident['id']}"
    clock.advance(timedelta(hours=2))  # the initial and written reports are now overdue
    await dutyd.tick()
    assert (await desk.post(f"{path}/status", json={"status": "resolved"})).status_code == 200
    assert (await desk.post(f"{path}/status", json={"status": "closed"})).status_code == 200
    detail = (await desk.get(path)).json()
    states = {d["kind"]: d["state"] for d in detail["reports"]}
    assert states["initial"] == "missing" and states["written"] == "missing"
    assert states["final"] == "cancelled"  # owed after resolution, not yet due
    assert "open" not in states.values()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("report_missing") >= 2 and "report_cancelled" in kinds
    missing = next(e for e in detail["timeline"] if e["kind"] == "report_missing")
    assert "漏报" in missing["summary"] and "responsible" in missing["summary"]
    overdue = (await desk.get("/api/v1/reports/overdue")).json()
    assert all(row["incident_id"] != incident["id"] for row in overdue)
    await desk.aclose()


async def test_reminders_and_late_notices_read_as_an_officer_writes(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """The reminder names who receives the report (the city's duty officer, by name of
    office, not 'duty_officer of top'); a late notice gives the delay as 1小时30分, never
    '0s'; a shift reminder names the role in the person's language only."""
    dutyd, transport = daemon
    assert transport is not None
    desk = await api_client(dutyd, Role.duty_officer)
    await desk.post("/api/v1/incidents", json=ROAD)
    for _ in range(4):
        clock.advance(timedelta(minutes=30))
        await dutyd.tick()
    texts = [m.body for m in transport.sent]
    reminder = next(t for t in texts if "【报告提醒】" in t)
    assert "duty_officer" not in reminder and "临江市人民政府总值班室值班员" in reminder
    late = next(t for t in texts if "【迟报】" in t)
    assert "0s" not in late and ("分" in late or "小时" in late)
    assert "duty_officer of" not in late  # the responsible person with their office
    clock.advance(timedelta(hours=9))  # 21:00: tomorrow's 08:30 shifts are 12 hours off
    assert await dutyd.remind_shifts() > 0
    await dutyd.tick()
    shift = next(m.body for m in transport.sent if "【值班提醒】" in m.body)
    assert "duty officer" not in shift and "leader on shift" not in shift
    await desk.aclose()


async def test_the_supplement_window_counts_from_the_event(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """Road traffic: supplements (补报) within 7 days of the accident, resolved or not; a
    report of an accident 8 days ago may not be supplemented any more."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    fresh = (await desk.post("/api/v1/incidents", json=ROAD)).json()
    old = (
        await desk.post(
            "/api/v1/incidents",
            json={
                **ROAD,
                "title": "八天前的事故",
                "occurred_at": (clock.now() - timedelta(days=8)).isoformat(),
            },
        )
    ).json()
    supplement = {"kind": "supplement", "content": "伤亡人数更正：重伤3人"}
    made = await desk.post(f"/api/v1/incidents/{fresh['id']}/reports", json=supplement)
    assert made.status_code == 201, made.text
    refused = await desk.post(f"/api/v1/incidents/{old['id']}/reports", json=supplement)
    assert refused.status_code == 422 and "7d after the event" in refused.text
    clock.advance(timedelta(days=6))
    later = await desk.post(f"/api/v1/incidents/{fresh['id']}/reports", json=supplement)
    assert later.status_code == 201  # day 6: still within the window, unresolved
    clock.advance(timedelta(days=2))
    late = await desk.post(f"/api/v1/incidents/{fresh['id']}/reports", json=supplement)
    assert late.status_code == 422
    await desk.aclose()


async def test_follow_ups_go_on_after_a_raise(daemon: Daemon, clock: FrozenClock) -> None:
    """A follow-up made, then a raise to I: the new level's follow-ups (08:00 and 17:00)
    are owed and numbered on from the last (续报二), not dropped because one was made."""
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.leader)
    incident = (await desk.post("/api/v1/incidents", json={**ROAD, "level": "II"})).json()
    path = f"/api/v1/incidents/{incident['id']}"
    first = next(d for d in incident["reports"] if d["kind"] == "followup")
    clock.set(datetime.fromisoformat(first["due_at"]) - timedelta(minutes=5))
    made = await desk.post(f"{path}/reports", json={"kind": "followup", "content": "续报一"})
    assert made.status_code == 201, made.text
    raised = await desk.post(f"{path}/level", json={"level": "I", "reason": "死亡32人"})
    assert raised.status_code == 200, raised.text
    detail = (await desk.get(path)).json()
    owed = [d for d in detail["reports"] if d["kind"] == "followup" and d["state"] == "open"]
    assert [d["name"] for d in owed] == ["续报二"], detail["reports"]
    await desk.aclose()
