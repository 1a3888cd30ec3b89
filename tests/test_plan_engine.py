"""The plan language at work: step repeats, the unanswered alert, versions, reload, re-plan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY

from service.app import Dutyd
from service.clock import FrozenClock
from service.flows.incident_detail import get_incident_detail
from service.flows.incidents import acknowledge, replan
from tests.engine_helpers import report, start_dutyd
from tests.plan_helpers import copy_sample_plans, write_plan

REPEATING = """
id: repeating
kind: master
title: 重复通知
scope: {{units: [linjiang]}}
defaults:
  escalation:
    steps:
      - notify: [{{role: duty_officer}}]
        channels: [sms]
        wait: 5m
        repeat: 1
    after_last: {after_last}
"""


async def test_step_repeats_then_duty_office_is_alerted(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A step with repeat 1 pages twice; when nobody answers, the top duty office is alerted."""
    plans = write_plan(
        tmp_path / "plans", "p.yaml", REPEATING.format(after_last="alert_duty_office")
    )
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans.parent)
    try:
        incident_id = await report(dutyd)
        await dutyd.tick()
        assert [m.address for m in transport.sent] == ["+8613800001102"]  # Qingshan's officer
        clock.advance(timedelta(minutes=5))
        await dutyd.tick()
        assert [m.address for m in transport.sent][1:] == ["+8613800001102"]
        clock.advance(timedelta(minutes=5))
        await dutyd.tick()
        alerted = sorted(m.address for m in transport.sent[2:])
        # The city's duty officer and leader on shift (2026-07-15), by sms and email.
        assert alerted == sorted(
            [
                "+8613800000102",
                "li.na@linjiang.example.gov.cn",
                "+8613800000202",
                "chen.gang@linjiang.example.gov.cn",
            ]
        )
        assert "无人确认" in transport.sent[2].body
        clock.advance(timedelta(hours=6))
        await dutyd.tick()
        assert len(transport.sent) == 6
        async with dutyd.sessions() as session:
            detail = await get_incident_detail(session, incident_id=incident_id)
        kinds = [e.kind for e in detail.timeline]
        assert kinds.count("step_fired") == 2 and kinds.count("unanswered_alert") == 1
    finally:
        await dutyd.stop()


async def timeline_kinds(dutyd: Dutyd, incident_id: int) -> list[str]:
    async with dutyd.sessions() as session:
        detail = await get_incident_detail(session, incident_id=incident_id)
    return [e.kind for e in detail.timeline]


async def test_after_last_stop_sends_nothing_more(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """The chain is spent when the last step's wait runs out, not when it fires; with
    `stop` nobody more is told, and an acknowledgement in that wait spends nothing."""
    plans = write_plan(tmp_path / "plans", "p.yaml", REPEATING.format(after_last="stop"))
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans.parent)
    try:
        unanswered = await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(minutes=5))
        await dutyd.tick()  # the last step (the repeat) fires now
        kinds = await timeline_kinds(dutyd, unanswered)
        assert kinds.count("step_fired") == 2 and "escalation_exhausted" not in kinds
        answered = await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(minutes=4, seconds=59))
        await dutyd.tick()
        assert "escalation_exhausted" not in await timeline_kinds(dutyd, unanswered)
        async with dutyd.sessions.begin() as session:
            await acknowledge(
                session,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                incident_id=answered,
                actor="li_na",
                now=clock.now(),
            )
        for _ in range(4):
            clock.advance(timedelta(minutes=5))
            await dutyd.tick()
        assert (await timeline_kinds(dutyd, unanswered)).count("escalation_exhausted") == 1
        assert "escalation_exhausted" not in await timeline_kinds(dutyd, answered)
        assert len([m for m in transport.sent if m.incident_id == unanswered]) == 2
    finally:
        await dutyd.stop()


async def test_edited_plan_applies_to_new_incidents_and_after_replan(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A running incident keeps its plan version through an edit and reload, until re-planned."""
    plans = copy_sample_plans(tmp_path)
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans)
    try:
        old_incident = await report(dutyd)
        await dutyd.tick()
        county = plans / "qingshan_flood.yaml"
        county.write_text(
            county.read_text(encoding="utf-8").replace(
                "- notify: [{role: office_director}]", "- notify: [{role: unit_head}]"
            ),
            encoding="utf-8",
        )
        assert dutyd.reload_plans().applied
        new_incident = await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(seconds=1))  # its pages, gathered after the first one's
        await dutyd.tick()
        transport.sent.clear()

        clock.advance(timedelta(minutes=10))
        await dutyd.tick()
        by_incident = {
            (m.incident_id, m.address) for m in transport.sent if m.channel.value == "sms"
        }
        assert by_incident == {
            (old_incident, "+8613800001301"),  # office director, as the plan said when it began
            (new_incident, "+8613800001001"),  # the county head, as the edited plan says
        }

        transport.sent.clear()
        async with dutyd.sessions.begin() as session:
            await replan(
                session,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                incident_id=old_incident,
                actor="admin",
                now=clock.now(),
            )
        clock.advance(timedelta(minutes=10))
        await dutyd.tick()
        # Both incidents are now at step 3 of the edited plan: the city's officer and leader.
        assert {m.incident_id for m in transport.sent} == {old_incident, new_incident}
        async with dutyd.sessions() as session:
            detail = await get_incident_detail(session, incident_id=old_incident)
        assert any(e.kind == "replanned" for e in detail.timeline)
    finally:
        await dutyd.stop()


def rejected_reloads() -> float:
    return REGISTRY.get_sample_value("dutyd_plan_reloads_total", {"result": "rejected"}) or 0.0


async def test_invalid_reload_is_refused_whole(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A broken file refuses the whole new set; the last good set stays in force."""
    plans = copy_sample_plans(tmp_path)
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans)
    try:
        before = dutyd.runtime.plans.digest
        rejected = rejected_reloads()
        write_plan(plans, "zz_new.yaml", REPEATING.format(after_last="stop"))
        (plans / "road_traffic.yaml").write_text("id: [unclosed\n", encoding="utf-8")
        outcome = dutyd.reload_plans()
        assert not outcome.applied
        assert any("road_traffic.yaml:2:1: YAML syntax error" in p for p in outcome.problems)
        assert dutyd.runtime.plans.digest == before
        assert dutyd.runtime.plans.get("repeating") is None
        assert rejected_reloads() == rejected + 1
        assert dutyd.last_reload == outcome
    finally:
        await dutyd.stop()
