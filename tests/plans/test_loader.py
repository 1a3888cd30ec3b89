"""Plan loading: good plans load; each rule has a bad fixture refused with a clear message."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from service.catalog import Category, Channel, Level
from service.errors import PlanInvalid
from service.plans.loader import load_plans
from service.plans.selection import choose_plan, find_ties
from service.roster.loader import load_roster
from service.roster.roster import Roster
from tests.conftest import REPO

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(REPO / "config" / "roster.yaml")


def test_sample_plans_load(roster: Roster) -> None:
    """Every plan shipped in plans/ passes the strict loader: all kinds are represented."""
    plans = load_plans(REPO / "plans", roster)
    kinds = {p.plan.kind.value for p in plans.plans}
    assert kinds == {"master", "special", "department", "county"}
    assert len(plans.plans) >= 9


# Each bad fixture, and what the error must say: file:line:col, path, found and expected.
BAD = [
    ("unknown_key", r"plan\.yaml:9:9: at defaults\.escalation\.steps\.0\.wiat: unknown key"),
    (
        "wrong_type",
        r"plan\.yaml:10:17: at defaults\.escalation\.steps\.0\.repeat: expected a valid "
        r"integer.*\(found 'twice'\)",
    ),
    (
        "bad_duration",
        r"plan\.yaml:9:15: at defaults\.escalation\.steps\.0\.wait: expected a duration "
        r"such as '30m'.*found 'ten minutes'",
    ),
    (
        "unknown_role",
        r"plan\.yaml:7:25: at defaults\.escalation\.steps\.0\.notify\.0\.role: unknown role "
        r"'mayor'; expected one of duty_officer",
    ),
    (
        "unknown_unit",
        r"plan\.yaml:5:11: at scope\.units\.0: unknown unit 'atlantis'; expected one of",
    ),
    (
        "unknown_category",
        r"plan\.yaml:5:16: at scope\.categories\.0: expected 'natural_disaster'.*"
        r"\(found 'alien_invasion'\)",
    ),
    (
        "unknown_level",
        r"plan\.yaml:\d+:\d+: at levels\.V: expected 'I', 'II', 'III' or 'IV' \(found 'V'\)",
    ),
    ("unknown_person", r"plan\.yaml:7:27: at .*notify\.0\.person: unknown person 'nobody_at_all'"),
    (
        "unknown_event_type",
        r"plan\.yaml:6:17: at scope\.event_types\.0: unknown event type 'flood' "
        r"for categories public_health",
    ),
    ("unknown_group", r"plan\.yaml:7:26: at .*notify\.0\.group: unknown group 'flood_command'"),
    (
        "unknown_channel",
        r"at defaults\.escalation\.steps\.0\.channels\.0: expected 'sms', 'email' or "
        r"'voice' \(found 'pager'\)",
    ),
    (
        "template_syntax",
        r"plan\.yaml:12:11: at defaults\.templates\.sms\.zh: template does not parse",
    ),
    (
        "template_undefined",
        r"plan\.yaml:12:11: at defaults\.templates\.sms\.zh: template uses undefined "
        r"variable 'casualties'",
    ),
    (
        "extends_cycle",
        r"a\.yaml:4:10: at extends: extends forms a cycle: plan-a extends plan-b extends "
        r"plan-a",
    ),
    ("extends_unknown", r"plan\.yaml:4:10: at extends: extends unknown plan 'no-such-plan'"),
    ("nobody_to_notify", r"plan\.yaml:5:3: at scope: level II: nobody to notify"),
    (
        "written_before_initial",
        r"plan\.yaml:7:64: at defaults\.reports\.written\.deadline: level I, II, "
        r"III, IV: written report deadline 30m is earlier than the initial report deadline 1h",
    ),
    ("duplicate_id", r"b\.yaml:1:5: at id: plan id 'same' is already used by .*a\.yaml"),
    (
        "followups_both",
        r"at defaults\.reports\.followups: follow-ups take 'every' or 'at', not both",
    ),
    (
        "append_nothing",
        r"plan\.yaml:6:5: at defaults\.escalation: escalation 'append' adds steps to an "
        r"inherited chain, but no plan this one extends gives an escalation",
    ),
    (
        "append_bad_step",
        r"plan\.yaml:16:17: at levels\.I\.escalation\.append\.0\.wait: expected a duration",
    ),
    (
        "hop_after_unknown",
        r"at defaults\.reports: chain: hop 'to-city' comes after 'to-county', which is not "
        r"an earlier hop",
    ),
    (
        "casualty_order",
        r"at casualty_levels\.0: level I needs more deaths than level II \(10 is not above 30\)",
    ),
    ("duplicate_key", r"plan\.yaml:4:1: key 'title' appears twice in the same map"),
    ("python_tag", r"plan\.yaml:1:5: tag '.*python/object/apply:os.system' is not allowed"),
    ("broken_yaml", r"plan\.yaml:\d+:\d+: YAML syntax error"),
]


@pytest.mark.parametrize(("case", "message"), BAD, ids=[case for case, _ in BAD])
def test_broken_plan_is_refused(roster: Roster, case: str, message: str) -> None:
    """Each rule has a fixture; the error names file, line, column, path and what is wrong."""
    with pytest.raises(PlanInvalid, match=message):
        load_plans(TESTDATA / case, roster)


def test_every_fixture_is_tested() -> None:
    """No fixture directory lies unused."""
    tested = {case for case, _ in BAD} | {
        "good_minimal",
        "good_extends",
        "bad_value_hides_nothing",
        "broken_parent",
    }
    assert {d.name for d in TESTDATA.iterdir()} == tested


def test_all_problems_reported_together(roster: Roster, tmp_path: Path) -> None:
    """Problems in several files come in one error, each once."""
    for case in ("unknown_role", "unknown_unit", "bad_duration"):
        (tmp_path / f"{case}.yaml").write_bytes((TESTDATA / case / "plan.yaml").read_bytes())
    with pytest.raises(PlanInvalid) as raised:
        load_plans(tmp_path, roster)
    assert len(raised.value.problems) == 3


def test_one_bad_value_hides_no_other_mistake_in_the_file(roster: Roster) -> None:
    """A bad duration, an unknown role and an unknown unit in one file: all three reported,
    each with its own line."""
    with pytest.raises(PlanInvalid) as raised:
        load_plans(TESTDATA / "bad_value_hides_nothing", roster)
    problems = "\n".join(raised.value.problems)
    assert re.search(r"plan\.yaml:10:\d+: .*wait.*ten minutes", problems), problems
    assert re.search(r"plan\.yaml:8:\d+: .*unknown role 'mayor'", problems), problems
    assert re.search(r"plan\.yaml:4:\d+: .*unknown unit 'atlantis'", problems), problems


def test_a_child_of_a_broken_parent_is_told_the_parent_is_broken(roster: Roster) -> None:
    """The parent exists but has an error: the child is not told it extends an unknown plan."""
    with pytest.raises(PlanInvalid) as raised:
        load_plans(TESTDATA / "broken_parent", roster)
    problems = "\n".join(raised.value.problems)
    assert "unknown plan" not in problems
    assert re.search(r"child\.yaml:3:\d+: .*extends plan 'parent', which has errors", problems)
    assert re.search(r"parent\.yaml:9:\d+: .*soon", problems), problems


def test_inheritance_and_origins(roster: Roster) -> None:
    """A child inherits what it does not say; each value says which file it came from."""
    plans = load_plans(TESTDATA / "good_extends", roster)
    child = plans.get("child")
    assert child is not None
    resolved = child.plan
    assert resolved.chain == ["parent", "child"]
    two, one = resolved.rules(Level.II), resolved.rules(Level.I)
    assert two.reports.written is not None and two.reports.written.deadline == timedelta(minutes=45)
    assert two.reports.initial is not None and two.reports.initial.deadline == timedelta(minutes=30)
    assert resolved.origins[Level.II]["reports.written"].endswith("child.yaml (levels.II)")
    assert resolved.origins[Level.II]["reports.initial"].endswith("parent.yaml (defaults)")
    assert one.escalation is not None and one.escalation.repeat == 1
    assert [s.channels for s in one.escalation.flat_steps()] == [[Channel.sms, Channel.voice]] * 3
    assert resolved.origins[Level.I]["escalation"].endswith("parent.yaml (levels.I)")
    assert resolved.groups["desk"][0].unit == "top"


def test_digest_changes_with_content_only(roster: Roster, tmp_path: Path) -> None:
    """The same content gives the same version; an edit gives a new one."""
    source = (TESTDATA / "good_minimal" / "plan.yaml").read_text(encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(source, encoding="utf-8")
    first = load_plans(tmp_path, roster).plans[0].digest
    assert load_plans(tmp_path, roster).plans[0].digest == first
    (tmp_path / "plan.yaml").write_text(source.replace("10m", "12m"), encoding="utf-8")
    assert load_plans(tmp_path, roster).plans[0].digest != first


@pytest.mark.parametrize(
    ("category", "event_type", "level", "unit", "expected"),
    [
        (Category.natural_disaster, "flood", Level.II, "qingshan", "qingshan-flood"),
        (Category.natural_disaster, "flood", Level.II, "hexi", "linjiang-flood"),
        (Category.natural_disaster, "flood", Level.III, "linjiang_water", "linjiang-water-bureau"),
        (Category.natural_disaster, "geological", Level.II, "qingshan", "linjiang-geological"),
        (Category.natural_disaster, "marine", Level.II, "qingshan", "linjiang-master"),
        (Category.accident_disaster, "road_traffic", Level.IV, "linjiang", "linjiang-road-traffic"),
        (
            Category.accident_disaster,
            "production_safety",
            Level.I,
            "hexi",
            "linjiang-production-safety",
        ),
        (Category.public_health, "food_safety", Level.III, "hexi", "linjiang-public-health"),
        (Category.social_security, "mass_incident", Level.II, "qingshan", "linjiang-mass-incident"),
    ],
)
def test_most_specific_plan_governs(
    roster: Roster, category: Category, event_type: str, level: Level, unit: str, expected: str
) -> None:
    """County refinement beats department beats special beats master; the reason says why."""
    plans = load_plans(REPO / "plans", roster)
    choice = choose_plan(
        plans, roster, category=category, event_type=event_type, level=level, unit_id=unit
    )
    assert choice.plan.plan.id == expected
    assert choice.reason.startswith(f"plan {expected} chosen")


FIRE_REFINEMENT = """
id: city-fire
kind: special
extends: linjiang-production-safety
title: 火灾事故应急预案
scope: {units: [linjiang], categories: [accident_disaster], event_types: [fire]}
"""
FIRE_TWIN = """
id: fire-twin
kind: special
extends: linjiang-production-safety
title: 另一份火灾预案
scope: {units: [linjiang], categories: [accident_disaster], event_types: [fire]}
"""


def test_a_refinement_wins_over_what_it_extends_and_ties_are_named(
    roster: Roster, tmp_path: Path
) -> None:
    """Both name `fire`: the plan that extends production safety governs, and its reason
    says it refines it. Two unrelated plans equally specific are a tie: the reason and
    `find_ties` say so instead of calling either 'more specific'."""
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    for plan in (REPO / "plans").glob("*.yaml"):
        (plans_dir / plan.name).write_bytes(plan.read_bytes())
    production = (plans_dir / "production_safety.yaml").read_text(encoding="utf-8")
    assert "fire" in production  # the parent names fire too
    (plans_dir / "fire.yaml").write_text(FIRE_REFINEMENT, encoding="utf-8")
    plans = load_plans(plans_dir, roster)
    choice = choose_plan(
        plans,
        roster,
        category=Category.accident_disaster,
        event_type="fire",
        level=Level.II,
        unit_id="hexi",
    )
    assert choice.plan.plan.id == "city-fire"
    assert "refines linjiang-production-safety" in choice.reason
    assert find_ties(plans, roster) == []
    (plans_dir / "twin.yaml").write_text(FIRE_TWIN, encoding="utf-8")
    plans = load_plans(plans_dir, roster)
    ties = find_ties(plans, roster)
    assert len(ties) == 1 and "plans fire-twin and city-fire tie for" in ties[0], ties
    tied = choose_plan(
        plans,
        roster,
        category=Category.accident_disaster,
        event_type="fire",
        level=Level.II,
        unit_id="hexi",
    )
    assert "TIED with" in tied.reason
