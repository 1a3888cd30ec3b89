"""Whatever bytes a plan file holds, loading ends quickly in plans or in structured errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import PlanInvalid
from service.plans.loader import load_plans
from service.roster.loader import load_roster
from service.roster.roster import Roster
from service.yamlfile import YamlProblem, parse_yaml
from tests.conftest import REPO

ROSTER = load_roster(REPO / "config" / "roster.yaml")
GOOD = (REPO / "tests" / "plans" / "testdata" / "good_minimal" / "plan.yaml").read_text("utf-8")


def load_text(directory: Path, text: str, roster: Roster = ROSTER) -> None:
    """Load one plan from text; only success or PlanInvalid may come out."""
    (directory / "plan.yaml").write_text(text, encoding="utf-8")
    try:
        load_plans(directory, roster)
    except PlanInvalid as exc:
        assert exc.problems, "a refusal must say why"
        assert all(isinstance(p, str) and p.strip() for p in exc.problems)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["30m", "2h", "I", "IV", "sms", "voice", "duty_officer", "qingshan", "flood"]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "id",
            "kind",
            "title",
            "extends",
            "scope",
            "groups",
            "defaults",
            "levels",
            "escalation",
            "steps",
            "notify",
            "channels",
            "wait",
            "repeat",
            "reports",
            "initial",
            "written",
            "deadline",
            "to",
            "role",
            "unit",
            "templates",
            "sms",
            "zh",
            "en",
            "response",
            "I",
            "II",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=40,
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(text=st.text(max_size=400))
def test_random_text_never_crashes(tmp_path: Path, text: str) -> None:
    load_text(tmp_path, text)


@SETTINGS
@given(document=documents)
def test_random_structures_never_crash(tmp_path: Path, document: object) -> None:
    load_text(tmp_path, yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(data=st.data())
def test_mutated_good_plan_never_crashes(tmp_path: Path, data: st.DataObject) -> None:
    """A good plan with a slice cut out or characters put in is loaded or refused cleanly."""
    start = data.draw(st.integers(0, len(GOOD)))
    end = data.draw(st.integers(start, min(len(GOOD), start + 40)))
    insert = data.draw(st.text(alphabet=" :-[]{}&*!|>'\"#\n\tab1", max_size=8))
    load_text(tmp_path, GOOD[:start] + insert + GOOD[end:])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
                for p, n in zip("abcdefg", "bcdefgh", strict=True)
            )
            + "i: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
            "document too large",
        ),
        ("x: " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
        ("x: " + "{a: " * 60 + "1" + "}" * 60 + "\n", "nested deeper than"),
        ("id: !!python/name:os.system\n", "is not allowed"),
        ("id: !include other.yaml\n", "is not allowed"),
        ("? [a, b]\n: c\n", "map keys must be plain text"),
        ("when: 2026-13-45\n", "unreadable value"),
    ],
    ids=[
        "alias-bomb",
        "deep-flow",
        "deep-maps",
        "python-tag",
        "custom-tag",
        "complex-key",
        "bad-date",
    ],
)
def test_hostile_documents_are_refused_quickly(text: str, message: str) -> None:
    """Alias bombs, deep nesting and tags are refused with a message, in well under a second."""
    started = time.monotonic()
    with pytest.raises(YamlProblem, match=message):
        parse_yaml(text, Path("hostile.yaml"))
    assert time.monotonic() - started < 5


def test_huge_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text("# " + "x" * 2_100_000 + "\n", encoding="utf-8")
    with pytest.raises(PlanInvalid, match="limit is 2000000"):
        load_plans(tmp_path, ROSTER)
