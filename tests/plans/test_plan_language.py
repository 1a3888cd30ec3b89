"""The plan language's newer rules, resolved: steps appended to an inherited escalation,
a reporting chain, follow-ups on change, and the levels casualty figures make."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.catalog import Level
from service.errors import PlanInvalid
from service.plans.casualty_levels import implied_level
from service.plans.loader import PlanSet, load_plans
from service.plans.models import Escalation, FollowUps, ResolvedPlan
from service.reports.duties import ReportKind, hops_after, opening_duties
from service.roster.loader import load_roster
from service.roster.roster import Roster
from tests.conftest import REPO

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEARNED = datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(REPO / "config" / "roster.yaml")


@pytest.fixture(scope="module")
def sample(roster: Roster) -> PlanSet:
    return load_plans(REPO / "plans", roster)


def plan_of(plans: PlanSet, plan_id: str) -> ResolvedPlan:
    loaded = plans.get(plan_id)
    assert loaded is not None, plan_id
    return loaded.plan


def chain_of(plan: ResolvedPlan, level: Level) -> Escalation:
    escalation = plan.rules(level).escalation
    assert escalation is not None
    return escalation


def test_appended_steps_follow_the_inherited_chain(sample: PlanSet) -> None:
    """Qingshan's level I adds the county head after its own three steps, written once."""
    plan = plan_of(sample, "qingshan-flood")
    level_one, level_two = chain_of(plan, Level.I), chain_of(plan, Level.II)
    assert len(level_two.steps) == 3
    assert level_one.steps[:3] == level_two.steps
    assert [t.role for t in level_one.steps[3].notify] == ["unit_head"]
    origin = plan.origins[Level.I]["escalation"]
    assert "qingshan_flood.yaml (defaults) + " in origin and origin.endswith("(levels.I)")


def test_the_sample_chain_has_two_hops(sample: PlanSet) -> None:
    reports = plan_of(sample, "linjiang-production-safety").rules(Level.III).reports
    assert reports.written is None  # the chain replaces the single written report
    opening = opening_duties(reports, LEARNED, SHANGHAI)
    hop_specs = [s for s in opening if s.kind is ReportKind.hop]
    assert [(s.hop, s.due_at) for s in hop_specs] == [
        ("county-to-city", LEARNED + timedelta(hours=1))
    ]
    assert [(n, h.id) for n, h in hops_after(reports, "county-to-city")] == [
        (2, "city-to-province")
    ]
    reached = opening_duties(reports, LEARNED, SHANGHAI, frozenset({"county-to-city"}))
    assert {s.hop for s in reached if s.hop} == {"county-to-city", "city-to-province"}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, None),
        ({"deaths": 2, "seriously_injured": 9}, None),
        ({"deaths": 3}, Level.III),
        ({"seriously_injured": 10}, Level.III),
        ({"deaths": 9, "seriously_injured": 50}, Level.II),
        ({"deaths": 29}, Level.II),
        ({"deaths": 30}, Level.I),
        ({"deaths": 0, "seriously_injured": 100}, Level.I),
        ({"injured": 500}, None),  # slight injuries make no level in the rule
    ],
)
def test_production_safety_thresholds(
    sample: PlanSet, counts: dict[str, int], expected: Level | None
) -> None:
    """The domain's figures: I from 30 deaths or 100 seriously injured, II 10–29, III 3–9."""
    plan = plan_of(sample, "linjiang-production-safety")
    implied = implied_level(plan, "accident_disaster", "fire", counts)
    assert (implied.level if implied else None) == expected
    if implied:
        assert implied.on_crossing == "raise"


def test_thresholds_apply_only_where_the_rule_covers(sample: PlanSet) -> None:
    plan = plan_of(sample, "linjiang-master")
    assert plan.casualty_levels == []
    assert implied_level(plan, "natural_disaster", "flood", {"deaths": 100}) is None


CHILD = """
id: county-fire
kind: county
extends: linjiang-production-safety
title: 县火灾预案
scope: {units: [hexi], categories: [accident_disaster], event_types: [fire]}
levels:
  II:
    escalation:
      append:
        - notify: [{role: unit_head}]
          channels: [sms]
          wait: 10m
"""


def test_a_child_inherits_thresholds_and_appends_to_the_city_chain(
    roster: Roster, tmp_path: Path
) -> None:
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    for plan in (REPO / "plans").glob("*.yaml"):
        (plans_dir / plan.name).write_bytes(plan.read_bytes())
    (plans_dir / "county_fire.yaml").write_text(CHILD, encoding="utf-8")
    plans = load_plans(plans_dir, roster)
    child, parent = plan_of(plans, "county-fire"), plan_of(plans, "linjiang-master")
    assert child.casualty_levels  # inherited from production safety
    steps = chain_of(child, Level.II).steps
    assert steps[:-1] == chain_of(parent, Level.II).steps
    assert steps[-1].notify[0].role == "unit_head"
    # An unknown role in an appended step is found like any other, at its place.
    (plans_dir / "county_fire.yaml").write_text(
        CHILD.replace("role: unit_head", "role: mayor"), encoding="utf-8"
    )
    with pytest.raises(
        PlanInvalid,
        match=r"county_fire\.yaml:\d+:\d+: at levels\.II\.escalation"
        r"\.append\.0\.notify\.0\.role: unknown role 'mayor'",
    ):
        load_plans(plans_dir, roster)


def test_follow_ups_on_change_alone_are_allowed() -> None:
    rule = FollowUps.model_validate({"to": [{"role": "duty_officer"}], "on_change": "30m"})
    assert rule.every is None and rule.on_change == timedelta(minutes=30)
    with pytest.raises(ValueError, match="one of 'every', 'at' or 'on_change'"):
        FollowUps.model_validate({"to": [{"role": "duty_officer"}]})
