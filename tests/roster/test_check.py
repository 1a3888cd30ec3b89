"""The roster check finds every gap and broken rule, with unit, time, rule and people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.errors import RosterInvalid
from service.roster.check import CALENDAR_MISSING, Violation, check_roster, check_roster_period
from service.roster.models import SensitivePeriod
from service.roster.roster import Roster
from service.roster.rules import load_rules
from tests.roster.builders import calendar, person, roster, rotation, rules

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 5, 4, 0, 0, tzinfo=SH)  # a Monday
WEEK = timedelta(days=7)
BASIC = {"defaults": {"leader_on_shift": {"min_rank": 4}}}


def check(
    r: Roster, rule_doc: dict | None = None, cal=None, start=START, end=START + WEEK
) -> list[Violation]:  # type: ignore[no-untyped-def]
    return check_roster(r, rules(**(rule_doc or BASIC)), cal or calendar(), start, end)


def by_rule(found: list[Violation]) -> dict[str, list[Violation]]:
    result: dict[str, list[Violation]] = {}
    for v in found:
        result.setdefault(v.rule, []).append(v)
    return result


def test_good_roster_has_no_violations() -> None:
    assert check(roster()) == []


def test_gap_before_rotation_starts() -> None:
    """Nobody on duty until the rotations begin on Wednesday 08:30: one merged gap per role."""
    r = roster(
        rotations=[
            rotation("duty_officer", ["a", "b", "c"], starts_on=date(2026, 5, 6)),
            rotation("leader_on_shift", ["boss", "vice"], starts_on=date(2026, 5, 6)),
        ]
    )
    found = by_rule(check(r))
    [gap] = found["duty_officer_count"]
    assert gap.unit == "u" and gap.start == START
    assert gap.end == datetime(2026, 5, 6, 8, 30, tzinfo=SH)
    assert "0 duty officer(s) on duty, 1 required" in gap.detail
    assert len(found["leader_count"]) == 1


def test_leader_below_rank() -> None:
    r = roster(
        people=[
            person("a"),
            person("b"),
            person("c"),
            person("boss", rank=3),
            person("vice", rank=6),
        ]
    )
    [v] = by_rule(check(r))["leader_rank"][:1]
    assert v.people == ("boss",) and "below rank 4" in v.detail


def test_duty_officer_below_rank() -> None:
    found = by_rule(check(roster(), {"defaults": {"duty_officer": {"min_rank": 5}}}))
    assert set(found["duty_officer_rank"][0].people) <= {"a", "b", "c"}


def test_leader_is_also_duty_officer() -> None:
    r = roster(
        rotations=[
            rotation("duty_officer", ["boss", "b", "c"]),
            rotation("leader_on_shift", ["boss", "vice"]),
        ]
    )
    v = by_rule(check(r))["leader_is_duty_officer"][0]
    assert v.people == ("boss",)


def test_person_on_duty_without_contact() -> None:
    r = roster(
        people=[
            person("a", contacts=False),
            person("b"),
            person("c"),
            person("boss", rank=6),
            person("vice", rank=6),
        ]
    )
    v = by_rule(check(r))["no_contact"][0]
    assert v.people == ("a",) and v.detail == "on duty with no contact method"


def test_too_many_consecutive_shifts() -> None:
    """One officer every day: a week-long stretch against a limit of two shifts."""
    r = roster(
        rotations=[rotation("duty_officer", ["a"]), rotation("leader_on_shift", ["boss", "vice"])]
    )
    found = by_rule(check(r, {"defaults": {"duty_officer": {"max_consecutive_shifts": 2}}}))
    v = found["duty_officer_consecutive_shifts"][0]
    assert v.people == ("a",) and "at most 2" in v.detail


def test_too_little_rest() -> None:
    """Day shift 08:00–16:00 then a night shift from 22:00 leaves 6 hours' rest."""
    table = [
        {
            "date": "2026-05-05",
            "unit": "u",
            "role": "duty_officer",
            "person": "a",
            "shift_start": "08:00",
            "shift_length": "8h",
        },
        {
            "date": "2026-05-05",
            "unit": "u",
            "role": "duty_officer",
            "person": "a",
            "shift_start": "22:00",
            "shift_length": "8h",
        },
    ]
    r = roster(duty_table=table)
    found = by_rule(check(r, {"defaults": {"duty_officer": {"min_rest": "12h", "min_count": 0}}}))
    [v] = found["duty_officer_rest"]
    assert v.start == datetime(2026, 5, 5, 16, tzinfo=SH) and v.end == datetime(
        2026, 5, 5, 22, tzinfo=SH
    )


def test_holiday_needs_enhanced_duty() -> None:
    """On National Day two officers and a senior leader are needed; on other days one."""
    start = datetime(2026, 9, 29, tzinfo=SH)
    r = roster(
        people=[
            person("a"),
            person("b"),
            person("c"),
            person("boss", rank=5),
            person("vice", rank=5),
        ]
    )
    doc = {
        "defaults": {"leader_on_shift": {"min_rank": 4}},
        "enhanced": {"duty_officer": {"min_count": 2}, "leader_on_shift": {"min_rank": 6}},
    }
    found = by_rule(check(r, doc, calendar(source="chinese"), start, start + timedelta(days=12)))
    counts = found["duty_officer_count"]
    assert all("(enhanced duty)" in v.detail for v in counts)
    assert counts[0].start == datetime(2026, 10, 1, tzinfo=SH)
    assert counts[-1].end == datetime(2026, 10, 8, tzinfo=SH)  # 10-08 back to normal duty
    assert found["leader_rank"][0].start == datetime(2026, 10, 1, tzinfo=SH)


def test_a_year_without_a_holiday_calendar_is_told_not_silently_treated_as_ordinary() -> None:
    """chinesecalendar 1.11 knows holidays up to 2026: a check reaching into 2027 says that
    2027's holidays would get no enhanced duty, until the office lists them."""
    start = datetime(2026, 12, 28, tzinfo=SH)
    end = datetime(2027, 1, 4, tzinfo=SH)
    [missing] = check(roster(), cal=calendar(source="chinese"), start=start, end=end)
    assert missing.rule == CALENDAR_MISSING and missing.unit == "u"
    assert missing.start == datetime(2027, 1, 1, tzinfo=SH) and missing.end == end
    assert "2027" in missing.detail and "extra_holidays" in missing.detail
    # Listed by the office (元旦 2027): told no more, and the day gets enhanced duty.
    # One holiday listed does not make the year known: National Day would go unwarned.
    one_listed = calendar(holidays=[date(2027, 1, 1)], source="chinese")
    [still_missing] = check(roster(), cal=one_listed, start=start, end=end)
    assert "known_years" in still_missing.detail
    listed = calendar(holidays=[date(2027, 1, 1)], source="chinese", known_years=[2027])
    assert check(roster(), cal=listed, start=start, end=end) == []
    assert listed.is_enhanced(date(2027, 1, 1), "u")
    # Within the known years, and with no calendar asked for, there is nothing to tell.
    assert check(roster(), cal=calendar(source="chinese")) == []
    assert check(roster(), cal=calendar(source="none"), start=start, end=end) == []
    # A period ending at the new year's midnight, or empty, does not reach into it.
    new_year = datetime(2027, 1, 1, tzinfo=SH)
    assert check(roster(), cal=calendar(source="chinese"), start=start, end=new_year) == []
    assert check(roster(), cal=calendar(source="chinese"), start=end, end=end) == []


def test_a_missing_holiday_calendar_is_told_for_the_top_unit_or_the_unit_asked_for() -> None:
    units = [
        {"id": "u", "name": "City", "timezone": "Asia/Shanghai"},
        {"id": "county", "name": "County", "timezone": "Asia/Shanghai", "parent": "u"},
    ]
    r = roster(units=units)
    start, end = datetime(2026, 12, 30, tzinfo=SH), datetime(2027, 1, 2, tzinfo=SH)
    rule_set, cal = rules(**BASIC), calendar(source="chinese")
    everything = check_roster(r, rule_set, cal, start, end)
    told = [v.unit for v in everything if v.rule == CALENDAR_MISSING]
    assert told == ["u"]
    asked = check_roster(r, rule_set, cal, start, end, ["county"])
    assert [v.unit for v in asked if v.rule == CALENDAR_MISSING] == ["county"]


def test_sensitive_period_needs_enhanced_duty() -> None:
    period = SensitivePeriod(
        name="两会", starts_on=date(2026, 5, 6), ends_on=date(2026, 5, 6), units=["u"]
    )
    found = by_rule(
        check(
            roster(),
            {**BASIC, "enhanced": {"duty_officer": {"min_count": 2}}},
            calendar(periods=[period]),
        )
    )
    [v] = found["duty_officer_count"]
    assert (v.start, v.end) == (datetime(2026, 5, 6, tzinfo=SH), datetime(2026, 5, 7, tzinfo=SH))


def test_enhanced_duty_limits_apply_to_stretches_and_rests_that_begin_in_it() -> None:
    """Enhanced duty may set its own consecutive-shift and rest limits: a stretch is judged
    by the rules where it begins, a rest by the rules where the rest begins."""
    solo = roster(
        rotations=[rotation("duty_officer", ["a"]), rotation("leader_on_shift", ["boss", "vice"])]
    )
    doc = {
        **BASIC,
        "defaults": {"duty_officer": {"max_consecutive_shifts": 2}},
        "enhanced": {"duty_officer": {"max_consecutive_shifts": 10}},
    }
    assert "duty_officer_consecutive_shifts" in by_rule(check(solo, doc))
    monday = SensitivePeriod(name="会议", starts_on=START.date(), ends_on=START.date())
    assert "duty_officer_consecutive_shifts" not in by_rule(
        check(solo, doc, calendar(periods=[monday]))
    )
    table = [
        {
            "date": "2026-05-05",
            "unit": "u",
            "role": "duty_officer",
            "person": "a",
            "shift_start": start,
            "shift_length": "8h",
        }
        for start in ("08:00", "22:00")
    ]
    doubled = roster(duty_table=table)
    rest_doc = {
        "defaults": {"duty_officer": {"min_rest": "12h", "min_count": 0}},
        "enhanced": {"duty_officer": {"min_rest": "4h"}},
    }
    [short] = by_rule(check(doubled, rest_doc))["duty_officer_rest"]
    assert "at least 12h required" in short.detail
    tuesday = SensitivePeriod(name="防汛", starts_on=date(2026, 5, 5), ends_on=date(2026, 5, 5))
    assert "duty_officer_rest" not in by_rule(check(doubled, rest_doc, calendar(periods=[tuesday])))


def test_sample_roster_is_clean_in_the_coming_weeks() -> None:
    """The shipped roster and rules pass the check for the demo period."""
    from service.roster.calendar import DutyCalendar
    from service.roster.loader import load_roster
    from tests.conftest import REPO

    r = load_roster(REPO / "config" / "roster.yaml")
    duty_rules = load_rules(REPO / "config" / "duty_rules.yaml", r)
    cal = DutyCalendar(r.document.calendar, r.document.sensitive_periods)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    assert check_roster(r, duty_rules, cal, start, start + timedelta(days=30)) == []


def test_rules_file_names_unknown_unit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rules.yaml"
    path.write_text("units:\n  atlantis: {contact_required: false}\n", encoding="utf-8")
    with pytest.raises(
        RosterInvalid, match=r"rules.yaml:2:3: at units.atlantis: unknown unit 'atlantis'"
    ):
        load_rules(path, roster())


def test_a_days_rest_across_the_change_to_summer_time_is_a_days_rest() -> None:
    """One on, one off, 24-hour shifts in Berlin across 29 March 2026 (clocks go forward):
    08:00 to 08:00 the next day is a day's rest, not '23h'; a short rest is told in words."""
    berlin = ZoneInfo("Europe/Berlin")
    r = roster(
        zone="Europe/Berlin",
        rotations=[
            rotation("duty_officer", ["a", "b"], start="08:00"),
            rotation("leader_on_shift", ["boss", "vice"], start="08:00"),
        ],
    )
    doc = {"defaults": {"duty_officer": {"min_rest": "24h"}, "leader_on_shift": {"min_rank": 4}}}
    start = datetime(2026, 3, 25, 0, 0, tzinfo=berlin)
    found = by_rule(check(r, doc, start=start, end=start + timedelta(days=10)))
    assert "duty_officer_rest" not in found, found.get("duty_officer_rest")
    strict = {"defaults": {"duty_officer": {"min_rest": "25h"}, "leader_on_shift": {"min_rank": 4}}}
    [first, *_] = by_rule(check(r, strict, start=start, end=start + timedelta(days=10)))[
        "duty_officer_rest"
    ]
    assert "rests 24h between shifts" in first.detail and "at least 25h" in first.detail


def test_a_date_without_an_offset_means_each_units_own_midnight() -> None:
    """A gap from 00:00 to 08:00 Berlin time on the first day: checked from the naive date
    2026-05-04 it lies inside the period for a Berlin unit (not 6 hours off, as Shanghai
    midnight would put it)."""
    r = roster(
        zone="Europe/Berlin",
        rotations=[
            rotation("duty_officer", ["a", "b"], start="08:00", starts_on=date(2026, 5, 4)),
            rotation("leader_on_shift", ["boss", "vice"], start="08:00"),
        ],
    )
    naive_start, naive_end = datetime(2026, 5, 4), datetime(2026, 5, 5)
    found = check_roster_period(r, rules(**BASIC), calendar(), naive_start, naive_end)
    gaps = [v for v in found if v.rule == "duty_officer_count"]
    berlin = ZoneInfo("Europe/Berlin")
    assert [g.start for g in gaps] == [datetime(2026, 5, 4, 0, 0, tzinfo=berlin)], found
