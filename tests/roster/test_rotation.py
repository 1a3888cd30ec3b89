"""Who holds a role when: rotations turn at the unit's wall-clock shift start, DST included."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.errors import RosterInvalid, UnknownValue
from service.roster.loader import load_roster
from service.roster.roster import Roster
from service.roster.shifts import instance
from tests.conftest import REPO
from tests.roster.builders import roster, rotation

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")  # DST starts 2026-03-29 02:00, ends 2026-10-25 03:00


@pytest.fixture(scope="module")
def sample() -> Roster:
    return load_roster(REPO / "config" / "roster.yaml")


def holder(r: Roster, role: str, unit: str, at: datetime) -> list[str]:
    return r.holder_ids(role, unit, at)


def test_shift_changes_at_its_start_time(sample: Roster) -> None:
    """At 08:29 local the night's officer still holds the shift; at 08:30 the next one does."""
    assert holder(
        sample, "duty_officer", "qingshan", datetime(2026, 7, 15, 8, 29, tzinfo=SHANGHAI)
    ) == ["liu_yang"]
    assert holder(
        sample, "duty_officer", "qingshan", datetime(2026, 7, 15, 8, 30, tzinfo=SHANGHAI)
    ) == ["sun_li"]
    assert holder(
        sample, "leader_on_shift", "qingshan", datetime(2026, 7, 15, 9, tzinfo=SHANGHAI)
    ) == ["wu_hua"]


def test_instant_in_any_zone_means_the_same(sample: Roster) -> None:
    local = datetime(2026, 7, 15, 10, 0, tzinfo=SHANGHAI)
    assert holder(sample, "duty_officer", "qingshan", local.astimezone(UTC)) == ["sun_li"]


def test_24h_shift_across_spring_dst_keeps_wall_clock_start_and_length() -> None:
    """The shift over the spring change runs 08:30 to 08:30 local: 23 real hours, no gap."""
    r = roster(zone="Europe/Berlin")
    rot = r.rotations[0]
    shift = instance(rot, date(2026, 3, 28), BERLIN)
    assert shift.start.astimezone(BERLIN).hour == 8 and shift.end.astimezone(BERLIN).hour == 8
    assert shift.end - shift.start == timedelta(hours=23)
    before = datetime(2026, 3, 29, 8, 29, tzinfo=BERLIN)
    after = datetime(2026, 3, 29, 8, 30, tzinfo=BERLIN)
    assert holder(r, "duty_officer", "u", before) == [rot.person_on(date(2026, 3, 28))]
    assert holder(r, "duty_officer", "u", after) == [rot.person_on(date(2026, 3, 29))]
    assert instance(rot, date(2026, 3, 29), BERLIN).start == shift.end


def test_night_shift_across_autumn_dst() -> None:
    """A 20:00 + 12h night shift on the autumn change ends at 08:00 local: 13 real hours."""
    r = roster(
        zone="Europe/Berlin",
        rotations=[
            rotation("duty_officer", ["a", "b"], start="08:00", length="12h"),
            rotation("duty_officer", ["c"], start="20:00", length="12h"),
            rotation("leader_on_shift", ["boss"]),
        ],
    )
    night = instance(r.rotations[1], date(2026, 10, 24), BERLIN)
    assert night.end - night.start == timedelta(hours=13)
    assert night.end.astimezone(BERLIN).hour == 8
    assert holder(r, "duty_officer", "u", datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)) == [
        "c"
    ]
    assert holder(r, "duty_officer", "u", datetime(2026, 10, 25, 8, 0, tzinfo=BERLIN)) == [
        r.rotations[0].person_on(date(2026, 10, 25))
    ]


def test_day_and_night_shifts() -> None:
    """Two 12-hour windows: the day rotation by day, the night rotation by night."""
    r = roster(
        rotations=[
            rotation("duty_officer", ["a", "b"], start="08:00", length="12h"),
            rotation("duty_officer", ["c"], start="20:00", length="12h"),
            rotation("leader_on_shift", ["boss"]),
        ]
    )
    assert holder(r, "duty_officer", "u", datetime(2026, 5, 1, 10, tzinfo=SHANGHAI)) in (
        ["a"],
        ["b"],
    )
    assert holder(r, "duty_officer", "u", datetime(2026, 5, 1, 22, tzinfo=SHANGHAI)) == ["c"]
    assert holder(r, "duty_officer", "u", datetime(2026, 5, 2, 7, 59, tzinfo=SHANGHAI)) == ["c"]


def test_weekly_rotation_and_start_date() -> None:
    """Every 7 days the next person; before the rotation starts, nobody."""
    r = roster(
        rotations=[rotation("duty_officer", ["a", "b"], starts_on=date(2026, 3, 2), every_days=7)]
    )
    assert holder(r, "duty_officer", "u", datetime(2026, 3, 8, 12, tzinfo=SHANGHAI)) == ["a"]
    assert holder(r, "duty_officer", "u", datetime(2026, 3, 9, 12, tzinfo=SHANGHAI)) == ["b"]
    assert holder(r, "duty_officer", "u", datetime(2026, 3, 2, 8, tzinfo=SHANGHAI)) == []


def test_rotation_runs_on_through_holidays(sample: Roster) -> None:
    """National Day changes nobody's turn: the rotation keeps alternating."""
    days = [datetime(2026, 10, d, 12, tzinfo=SHANGHAI) for d in range(1, 8)]
    people = [holder(sample, "duty_officer", "linjiang", d)[0] for d in days]
    assert all(x != y for x, y in itertools.pairwise(people))


def test_unknown_unit_is_named(sample: Roster) -> None:
    with pytest.raises(UnknownValue, match="unknown unit 'atlantis'"):
        sample.holders("duty_officer", "atlantis", datetime.now(UTC))


def test_broken_roster_lists_every_problem(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Unknown units and people in a roster are all reported, with file, line and column."""
    path = tmp_path / "roster.yaml"
    path.write_text(
        "units:\n  - {id: city, name: City, parent: nowhere}\n"
        "people:\n  - {id: a, name: A, unit: city}\n"
        "rotations:\n  - {unit: city, role: duty_officer, shift_start: '08:00',"
        " starts_on: 2026-01-01, people: [a, ghost]}\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterInvalid) as raised:
        load_roster(path)
    text = str(raised.value)
    assert "roster.yaml:2:" in text and "units.0.parent: unknown unit 'nowhere'" in text
    assert "rotations.0.people.1: unknown person 'ghost'" in text


def test_skipped_and_repeated_wall_times() -> None:
    """02:30 on the spring change does not exist: it moves forward to 03:30; in autumn,
    02:30 happens twice and the first one counts."""
    from service.roster.shifts import wall_to_utc

    spring = wall_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN).astimezone(BERLIN)
    assert (spring.hour, spring.minute, spring.utcoffset()) == (3, 30, timedelta(hours=2))
    assert wall_to_utc(datetime(2026, 3, 29, 1, 59), BERLIN) < wall_to_utc(
        datetime(2026, 3, 29, 2, 0), BERLIN
    )
    autumn = wall_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN).astimezone(BERLIN)
    assert autumn.utcoffset() == timedelta(hours=2)
