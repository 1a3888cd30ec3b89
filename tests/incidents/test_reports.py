"""Report duties: reminders, late reports (迟报) recorded and escalated, follow-ups, statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.engine_helpers import report, start_dutyd
from tests.fakes.recording import RecordingTransport
from tests.plan_helpers import write_plan

SH = ZoneInfo("Asia/Shanghai")
SUN_LI, WU_HUA = "+8613800001102", "+8613800001202"  # Qingshan's officer and leader, 2026-07-15


def new_messages(transport: RecordingTransport, since: int) -> list[tuple[str, str]]:
    return [(m.address, m.body) for m in transport.sent[since:]]


async def test_missed_deadline_is_recorded_late_and_escalated(
    daemon: Daemon, clock: FrozenClock
) -> None:
    """Due in 30m: reminder at 20m, late at 30m, leader told; made late, it stays late."""
    dutyd, transport = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident_id = await report(dutyd)
    await dutyd.tick()
    seen = len(transport.sent)

    clock.advance(timedelta(minutes=20))
    await dutyd.tick()
    reminders = [m for m in new_messages(transport, seen) if "报告提醒" in m[1]]
    assert [a for a, _ in reminders] == [SUN_LI] and "初报" in reminders[0][1]
    seen = len(transport.sent)

    clock.advance(timedelta(minutes=10))
    await dutyd.tick()
    late = [m for m in new_messages(transport, seen) if "迟报" in m[1]]
    assert {a for a, _ in late} == {WU_HUA, "wu.hua@qingshan.example.gov.cn"}
    assert "孙丽" in late[0][1]

    overdue = (await desk.get("/api/v1/reports/overdue")).json()
    assert [(d["incident_id"], d["duty"]["kind"], d["duty"]["late"]) for d in overdue] == [
        (incident_id, "initial", True)
    ]
    clock.advance(timedelta(minutes=7))
    made = await desk.post(
        f"/api/v1/incidents/{incident_id}/reports",
        json={"kind": "initial", "content": "电话初报：河水漫堤，无人员伤亡。"},
    )
    assert made.status_code == 201 and made.json()["late"] is True
    assert (await desk.get("/api/v1/reports/overdue")).json() == []

    detail = (await desk.get(f"/api/v1/incidents/{incident_id}")).json()
    summaries = [e["summary"] for e in detail["timeline"]]
    assert any("LATE (迟报): initial report was due 07-15 10:30" in s for s in summaries)
    assert any("LATE by 7m" in s for s in summaries)

    clock.advance(timedelta(hours=2))  # the written report (due 1h) is missed too
    await dutyd.tick()
    stats = (
        await desk.get(
            "/api/v1/reports/stats",
            params={
                "start": (clock.now() - timedelta(days=1)).isoformat(),
                "end": (clock.now() + timedelta(days=1)).isoformat(),
            },
        )
    ).json()
    assert stats == [{"unit": "qingshan", "on_time": 0, "late": 1, "missing": 1, "pending": 1}]
    await desk.aclose()


async def test_report_without_a_duty_is_refused(daemon: Daemon) -> None:
    dutyd, _ = daemon
    desk = await api_client(dutyd, Role.duty_officer)
    incident_id = await report(dutyd)
    response = await desk.post(
        f"/api/v1/incidents/{incident_id}/reports", json={"kind": "final", "content": "终报"}
    )
    assert response.status_code == 422
    assert "no final report is due" in response.json()["detail"][0]["msg"]
    supplement = await desk.post(
        f"/api/v1/incidents/{incident_id}/reports",
        json={"kind": "supplement", "content": "补报：伤员增至3人"},
    )
    assert supplement.status_code == 201


CADENCE = """
id: cadence
kind: master
title: 续报测试
scope: {{units: [linjiang]}}
defaults:
  reports:
    initial: {{to: [{{role: duty_officer, unit: top}}], deadline: 1h, via: [phone]}}
    followups: {{to: [{{role: duty_officer, unit: top}}], {followups}}}
  escalation:
    steps:
      - notify: [{{role: duty_officer}}]
        channels: [sms]
        wait: 10m
    after_last: stop
"""


async def duties(dutyd: Dutyd, incident_id: int) -> list[tuple[str, int, datetime, str]]:
    async with dutyd.sessions() as session:
        from service.flows.incident_detail import get_incident_detail

        detail = await get_incident_detail(session, incident_id=incident_id)
    return [(d.kind, d.sequence, d.due_at.astimezone(SH), d.state) for d in detail.reports]


async def test_followups_on_a_cadence_across_midnight(tmp_path: Path, database_url: str) -> None:
    """Learned at 22:00: initial by 23:00, follow-ups every 6h from then: 05:00, 11:00, …"""
    clock = FrozenClock(datetime(2026, 7, 15, 22, 0, tzinfo=SH))
    plans = write_plan(tmp_path / "plans", "p.yaml", CADENCE.format(followups="every: 6h"))
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans.parent)
    try:
        incident_id = await report(dutyd)
        assert [
            (k, s, d.strftime("%d %H:%M")) for k, s, d, _ in await duties(dutyd, incident_id)
        ] == [("initial", 1, "15 23:00"), ("followup", 1, "16 05:00")]
        clock.set(datetime(2026, 7, 16, 5, 0, tzinfo=SH))
        await dutyd.tick()  # follow-up 1 missed: recorded late, follow-up 2 scheduled
        listed = await duties(dutyd, incident_id)
        assert [(k, s, d.strftime("%d %H:%M")) for k, s, d, _ in listed][-1] == (
            "followup",
            2,
            "16 11:00",
        )
    finally:
        await dutyd.stop()


async def test_followups_at_fixed_local_times(tmp_path: Path, database_url: str) -> None:
    """08:00 and 17:00: learned at 20:00, the first follow-up is due 08:00 next morning."""
    clock = FrozenClock(datetime(2026, 7, 15, 20, 0, tzinfo=SH))
    plans = write_plan(
        tmp_path / "plans", "p.yaml", CADENCE.format(followups='at: ["08:00", "17:00"]')
    )
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans.parent)
    desk = await api_client(dutyd, Role.duty_officer)
    try:
        incident_id = await report(dutyd)
        followups = [d for d in await duties(dutyd, incident_id) if d[0] == "followup"]
        assert [d[2] for d in followups] == [datetime(2026, 7, 16, 8, 0, tzinfo=SH)]
        clock.set(datetime(2026, 7, 16, 7, 50, tzinfo=SH))
        made = await desk.post(
            f"/api/v1/incidents/{incident_id}/reports",
            json={"kind": "followup", "content": "续报1"},
        )
        assert made.json()["late"] is False
        followups = [d for d in await duties(dutyd, incident_id) if d[0] == "followup"]
        assert [(d[1], d[2].strftime("%d %H:%M"), d[3]) for d in followups] == [
            (1, "16 08:00", "submitted"),
            (2, "16 17:00", "open"),
        ]
        # Resolving the incident ends follow-ups not yet due and opens the final report.
        resolved = await desk.post(
            f"/api/v1/incidents/{incident_id}/status", json={"status": "resolved"}
        )
        assert resolved.status_code == 200
        states = {(k, s): st for k, s, _, st in await duties(dutyd, incident_id)}
        assert states[("followup", 2)] == "cancelled"
    finally:
        await desk.aclose()
        await dutyd.stop()


async def test_cli_lists_overdue_reports(tmp_path: Path) -> None:
    """`dutyd report overdue` names the late report; `report stats` counts it."""
    from tests.cli_helpers import run_cli

    reported = run_cli(
        tmp_path,
        "incident",
        "report",
        "--category",
        "accident_disaster",
        "--type",
        "road_traffic",
        "--level",
        "III",
        "--unit",
        "hexi",
        "--title",
        "货车侧翻",
        "--description",
        "G318",
    )
    assert reported.returncode == 0, reported.stderr
    overdue = run_cli(tmp_path, "report", "overdue", "--all")
    assert "initial" in overdue.stdout and "written" in overdue.stdout
    submitted = run_cli(tmp_path, "report", "submit", "1", "--kind", "initial", "--content", "初报")
    assert submitted.returncode == 0 and "recorded" in submitted.stdout
    now = datetime.now(UTC)
    stats = run_cli(
        tmp_path,
        "report",
        "stats",
        "--from",
        (now - timedelta(days=1)).isoformat(),
        "--to",
        (now + timedelta(days=1)).isoformat(),
    )
    assert "hexi" in stats.stdout and "on time    1" in stats.stdout
