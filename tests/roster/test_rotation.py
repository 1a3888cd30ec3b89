"""Who holds a role when: rotations turn at the unit's local handover time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from service.errors import RosterInvalid, UnknownValue
from service.roster.loader import load_roster
from service.roster.models import Rotation
from service.roster.roster import Roster
from tests.conftest import REPO

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(REPO / "config" / "roster.yaml")


def holder(roster: Roster, role: str, unit: str, local: datetime) -> str:
    return next(h.person.id for h in roster.holders(role, unit, local))


def test_shift_changes_at_handover(roster: Roster) -> None:
    """At 08:29 local the night's officer still holds the shift; at 08:30 the next one does."""
    before = datetime(2026, 7, 15, 8, 29, tzinfo=SHANGHAI)
    after = datetime(2026, 7, 15, 8, 30, tzinfo=SHANGHAI)
    assert holder(roster, "duty_officer", "qingshan", before) == "liu_yang"
    assert holder(roster, "duty_officer", "qingshan", after) == "sun_li"
    assert holder(roster, "leader_on_shift", "qingshan", after) == "wu_hua"


def test_instant_in_any_zone_means_the_same(roster: Roster) -> None:
    """An instant given in UTC resolves like the same instant in local time."""
    local = datetime(2026, 7, 15, 10, 0, tzinfo=SHANGHAI)
    assert holder(roster, "duty_officer", "qingshan", local.astimezone(UTC)) == "sun_li"


def test_weekly_rotation_keeps_wall_clock_handover_across_dst() -> None:
    """In a zone with daylight saving, the shift still turns at 09:00 local on both sides."""
    rotation = Rotation(
        unit="x",
        role="duty_officer",
        handover=time(9, 0),
        start=date(2026, 3, 1),
        every_days=7,
        people=["a", "b"],
    )
    berlin = ZoneInfo("Europe/Berlin")  # DST starts 2026-03-29
    assert rotation.holder_at(datetime(2026, 3, 29, 8, 59, tzinfo=berlin)) == "b"
    assert rotation.holder_at(datetime(2026, 3, 29, 9, 0, tzinfo=berlin)) == "a"


def test_unknown_unit_is_named(roster: Roster) -> None:
    with pytest.raises(UnknownValue, match="unknown unit 'atlantis'"):
        roster.holders("duty_officer", "atlantis", datetime.now(UTC))


def test_broken_roster_lists_every_problem(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Unknown units and people in a roster are all reported, with where they are."""
    path = tmp_path / "roster.yaml"
    path.write_text(
        "units:\n  - {id: city, name: City, parent: nowhere}\n"
        "people:\n  - {id: a, name: A, unit: city}\n"
        "rotations:\n  - {unit: city, role: duty_officer, handover: '08:00', start: 2026-01-01,"
        " people: [a, ghost]}\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterInvalid) as raised:
        load_roster(path)
    text = str(raised.value)
    assert "units.0.parent: unknown unit 'nowhere'" in text
    assert "rotations.0.people.1: unknown person 'ghost'" in text
