"""Plan loading: the sample set loads; each broken file is refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.catalog import Category, Level
from service.errors import PlanInvalid
from service.plans.loader import load_plans
from service.plans.selection import choose_plan
from service.roster.loader import load_roster
from service.roster.roster import Roster
from tests.conftest import REPO

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(REPO / "config" / "roster.yaml")


def test_sample_plans_load(roster: Roster) -> None:
    """Every plan shipped in plans/ passes the strict loader."""
    plans = load_plans(REPO / "plans", roster)
    assert {p.plan.id for p in plans.plans} >= {
        "linjiang-master",
        "linjiang-flood",
        "qingshan-flood",
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown_role", r"plan\.yaml: at escalation\.steps\.0\.notify\.0: unknown role 'mayor'"),
        ("unknown_key", r"plan\.yaml: at escalation\.steps\.0\.wiat: unknown key"),
        ("bad_duration", r"at escalation\.steps\.0\.wait: .*expected a duration such as '30m'"),
        ("unknown_unit", r"at scope\.units\.0: unknown unit 'atlantis'"),
        ("broken_yaml", r"plan\.yaml:\d+:\d+: YAML syntax error"),
    ],
)
def test_broken_plan_is_refused(roster: Roster, case: str, message: str) -> None:
    """Each rule has a fixture; the error names file, place and what is wrong."""
    with pytest.raises(PlanInvalid, match=message):
        load_plans(TESTDATA / case, roster)


def test_all_problems_reported_together(roster: Roster, tmp_path: Path) -> None:
    """Two broken files give two problems in one error, not just the first."""
    for case in ("unknown_role", "unknown_unit"):
        (tmp_path / f"{case}.yaml").write_bytes((TESTDATA / case / "plan.yaml").read_bytes())
    with pytest.raises(PlanInvalid) as raised:
        load_plans(tmp_path, roster)
    assert len(raised.value.problems) == 2


@pytest.mark.parametrize(
    ("category", "event_type", "level", "unit", "expected"),
    [
        (Category.natural_disaster, "flood", Level.II, "qingshan", "qingshan-flood"),
        (Category.natural_disaster, "flood", Level.II, "hexi", "linjiang-flood"),
        (Category.natural_disaster, "earthquake", Level.II, "qingshan", "linjiang-master"),
        (Category.accident_disaster, "road_traffic", Level.IV, "linjiang", "linjiang-road-traffic"),
    ],
)
def test_most_specific_plan_governs(
    roster: Roster, category: Category, event_type: str, level: Level, unit: str, expected: str
) -> None:
    """County refinement beats special plan beats master plan; the reason says why."""
    plans = load_plans(REPO / "plans", roster)
    choice = choose_plan(
        plans, roster, category=category, event_type=event_type, level=level, unit_id=unit
    )
    assert choice.plan.plan.id == expected
    assert choice.reason.startswith(f"plan {expected} chosen")
