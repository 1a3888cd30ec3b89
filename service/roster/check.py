"""Find every gap and rule violation in a period, before it happens."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from service.durations import format_duration
from service.errors import InvalidInput
from service.roster.calendar import DutyCalendar
from service.roster.roster import Assignment, Roster
from service.roster.rules import DutyRules, EffectiveRoleRules, EffectiveRules
from service.roster.shifts import as_utc, wall_to_utc


@dataclass(frozen=True)
class Violation:
    unit: str
    start: datetime
    end: datetime
    rule: str
    people: tuple[str, ...]
    detail: str


MAX_CHECK_DAYS = 400


def check_roster(
    roster: Roster,
    rules: DutyRules,
    calendar: DutyCalendar,
    start: datetime,
    end: datetime,
    units: list[str] | None = None,
) -> list[Violation]:
    """Every violation in [start, end), unit by unit, in time order. A period longer than
    MAX_CHECK_DAYS is refused: a rule check is minutes of work per century, and a roster is
    planned a year ahead at most."""
    if end - start > timedelta(days=MAX_CHECK_DAYS):
        raise InvalidInput(
            f"a roster check covers at most {MAX_CHECK_DAYS} days; check the period in parts",
            field="end",
        )
    if end < start:
        raise InvalidInput("the period to check ends before it starts", field="end")
    found: list[Violation] = []
    for unit_id in units or sorted(roster.units):
        missing = _calendar_missing(roster, calendar, unit_id, start, end, asked=bool(units))
        found.extend(missing)
        found.extend(_check_unit(roster, rules, calendar, unit_id, start, end))
    return found


def check_roster_period(
    roster: Roster,
    rules: DutyRules,
    calendar: DutyCalendar,
    start: datetime,
    end: datetime,
    units: list[str] | None = None,
) -> list[Violation]:
    """As `check_roster`, where a time given without an offset (a date typed by an officer)
    means that time on each unit's own clocks: 2026-03-01 is Berlin's midnight for a Berlin
    unit and Shanghai's for a Shanghai one."""
    if start.tzinfo is not None and end.tzinfo is not None:
        return check_roster(roster, rules, calendar, start, end, units)
    found: list[Violation] = []
    for unit_id in units or sorted(roster.units):
        zone = roster.unit(unit_id).zone
        begin, finish = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (start, end))
        found.extend(check_roster(roster, rules, calendar, begin, finish, [unit_id]))
    return found


CALENDAR_MISSING = "holiday_calendar_missing"


def _calendar_missing(
    roster: Roster,
    calendar: DutyCalendar,
    unit_id: str,
    start: datetime,
    end: datetime,
    *,
    asked: bool,
) -> list[Violation]:
    """A period with no holiday calendar, told once: for the top units, or the unit asked for."""
    unit = roster.unit(unit_id)
    if (unit.parent is not None and not asked) or end <= start:
        return []
    first = start.astimezone(unit.zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(unit.zone).date()
    day = calendar.unknown_from(first, last)
    if day is None:
        return []
    begins = max(start, wall_to_utc(datetime.combine(day, datetime.min.time()), unit.zone))
    return [
        Violation(
            unit_id,
            begins,
            end,
            CALENDAR_MISSING,
            (),
            f"no public holiday calendar for {day.year}: its holidays get no enhanced duty "
            f"until they are listed in calendar.extra_holidays and extra_workdays and "
            f"{day.year} is added to calendar.known_years (or chinesecalendar is upgraded "
            f"to a release with {day.year})",
        )
    ]


def _enhanced_changes(
    calendar: DutyCalendar, roster: Roster, unit_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, bool]]:
    """(instant, enhanced) at `start` and at each local midnight where enhanced duty changes."""
    zone = roster.unit(unit_id).zone
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    changes = [(start, calendar.is_enhanced(day, unit_id))]
    while day < last:
        day += timedelta(days=1)
        enhanced = calendar.is_enhanced(day, unit_id)
        if enhanced != changes[-1][1]:
            changes.append(
                (
                    max(start, wall_to_utc(datetime.combine(day, datetime.min.time()), zone)),
                    enhanced,
                )
            )
    return changes


def _check_unit(
    roster: Roster,
    rules: DutyRules,
    calendar: DutyCalendar,
    unit_id: str,
    start: datetime,
    end: datetime,
) -> list[Violation]:
    officers = roster.assignments(unit_id, "duty_officer", start, end)
    leaders = roster.assignments(unit_id, "leader_on_shift", start, end)
    changes = _enhanced_changes(calendar, roster, unit_id, start, end)

    # Sweep the period: at each boundary the set of people on duty may change.
    events: list[tuple[datetime, int, str, str]] = []
    for role, items in (("duty_officer", officers), ("leader_on_shift", leaders)):
        for a in items:
            events.append((a.start, 1, role, a.person))
            events.append((a.end, -1, role, a.person))
    boundaries = sorted({start, end, *(e[0] for e in events), *(c[0] for c in changes)})
    events.sort(key=lambda e: e[0])
    # How many stretches of each person are open, by role; only counts above zero are kept.
    active: dict[str, dict[str, int]] = {"duty_officer": {}, "leader_on_shift": {}}
    effective = {flag: rules.for_unit(unit_id, enhanced=flag) for flag in (False, True)}
    # Rotations bring the same people back again and again: judge each state once.
    judged: dict[tuple[tuple[str, ...], tuple[str, ...], bool], list[_Finding]] = {}
    end_utc = as_utc(end)
    raw: list[Violation] = []
    e = c = 0
    enhanced = changes[0][1]
    for here, following in pairwise(boundaries):
        while e < len(events) and events[e][0] <= here:
            _, delta, role, person = events[e]
            counts = active[role]
            count = counts.get(person, 0) + delta
            if count > 0:
                counts[person] = count
            else:
                counts.pop(person, None)
            e += 1
        while c < len(changes) and changes[c][0] <= here:
            enhanced = changes[c][1]
            c += 1
        if following > end_utc or here >= end_utc:
            break
        state = (
            tuple(sorted(active["duty_officer"])),
            tuple(sorted(active["leader_on_shift"])),
            enhanced,
        )
        findings = judged.get(state)
        if findings is None:
            findings = judged[state] = _judge_moment(roster, effective[enhanced], *state)
        if findings:
            raw.extend(
                Violation(unit_id, here, following, rule, people, detail)
                for rule, people, detail in findings
            )
    merged = _merge(raw)
    change_at = [as_utc(instant) for instant, _ in changes]

    def rules_at(instant: datetime, role: str) -> EffectiveRoleRules:
        """The role's rules in force at `instant`: normal or enhanced duty."""
        index = bisect_right(change_at, as_utc(instant)) - 1
        return getattr(effective[changes[max(index, 0)][1]], role)

    for role, items in (("duty_officer", officers), ("leader_on_shift", leaders)):
        merged.extend(
            _check_stretches(
                unit_id, role, items, lambda t, r=role: rules_at(t, r), roster.unit(unit_id).zone
            )
        )
    return sorted(merged, key=lambda v: (v.start, v.rule))


_Finding = tuple[str, tuple[str, ...], str]  # rule, people, detail


def _judge_moment(
    roster: Roster,
    rules: EffectiveRules,
    officers: tuple[str, ...],
    leaders: tuple[str, ...],
    enhanced: bool,
) -> list[_Finding]:
    """What is wrong while exactly these (sorted) people are on duty."""
    found: list[_Finding] = []
    why = " (enhanced duty)" if enhanced else ""
    if len(officers) < rules.duty_officer.min_count:
        found.append(
            (
                "duty_officer_count",
                officers,
                f"{len(officers)} duty officer(s) on duty, "
                f"{rules.duty_officer.min_count} required{why}",
            )
        )
    if len(leaders) < rules.leader_on_shift.min_count:
        found.append(
            (
                "leader_count",
                leaders,
                f"{len(leaders)} leader(s) on shift, "
                f"{rules.leader_on_shift.min_count} required{why}",
            )
        )
    junior = tuple(p for p in leaders if roster.people[p].rank < rules.leader_on_shift.min_rank)
    if junior:
        found.append(
            (
                "leader_rank",
                junior,
                f"leader on shift below rank {rules.leader_on_shift.min_rank}{why}",
            )
        )
    junior = tuple(p for p in officers if roster.people[p].rank < rules.duty_officer.min_rank)
    if junior:
        found.append(
            (
                "duty_officer_rank",
                junior,
                f"duty officer below rank {rules.duty_officer.min_rank}{why}",
            )
        )
    both = tuple(sorted(set(officers) & set(leaders)))
    if rules.leader_not_duty_officer and both:
        found.append(
            ("leader_is_duty_officer", both, "the leader on shift is also the duty officer")
        )
    if rules.contact_required:
        silent = tuple(p for p in sorted({*officers, *leaders}) if not roster.people[p].contacts)
        if silent:
            found.append(("no_contact", silent, "on duty with no contact method"))
    return found


def _merge(violations: list[Violation]) -> list[Violation]:
    """Join back-to-back stretches of the same violation into one, naming everyone involved."""
    merged: list[Violation] = []
    open_by_key: dict[tuple[str, str], int] = {}
    for v in sorted(violations, key=lambda v: v.start):
        key = (v.rule, v.detail)
        index = open_by_key.get(key)
        if index is not None and merged[index].end == v.start:
            previous = merged[index]
            people = tuple(dict.fromkeys((*previous.people, *v.people)))
            merged[index] = Violation(v.unit, previous.start, v.end, v.rule, people, v.detail)
        else:
            open_by_key[key] = len(merged)
            merged.append(v)
    return merged


def _check_stretches(
    unit_id: str,
    role: str,
    items: list[Assignment],
    rules_at: Callable[[datetime], EffectiveRoleRules],
    zone: ZoneInfo,
) -> list[Violation]:
    """Consecutive shifts and rest between shifts, person by person: a stretch of duty is
    judged by the rules in force where it begins, a rest by those where the rest begins
    (so enhanced duty's limits apply to what starts on an enhanced-duty day). A rest is
    measured on the unit's clocks, as duty rules mean it: 08:30 to 08:30 the next day is a
    day's rest, also across a change to or from summer time."""
    found: list[Violation] = []
    by_person: dict[str, list[Assignment]] = {}
    for a in items:
        by_person.setdefault(a.person, []).append(a)
    for person, shifts in by_person.items():
        shifts.sort(key=lambda a: a.start)
        stretch_start, stretch_end, count = shifts[0].start, shifts[0].end, 1
        stretches: list[tuple[datetime, datetime, int]] = []
        for a in shifts[1:]:
            if a.start <= stretch_end:
                stretch_end, count = max(stretch_end, a.end), count + 1
            else:
                stretches.append((stretch_start, stretch_end, count))
                stretch_start, stretch_end, count = a.start, a.end, 1
        stretches.append((stretch_start, stretch_end, count))
        for s, e, n in stretches:
            limit = rules_at(s).max_consecutive_shifts
            if limit is not None and n > limit:
                found.append(
                    Violation(
                        unit_id,
                        s,
                        e,
                        f"{role}_consecutive_shifts",
                        (person,),
                        f"{n} consecutive shifts as {role}, at most {limit}",
                    )
                )
        for (_, prev_end, _), (nxt_start, _, _) in pairwise(stretches):
            min_rest = rules_at(prev_end).min_rest
            rest = _wall(nxt_start, zone) - _wall(prev_end, zone)
            if min_rest is not None and rest < min_rest:
                found.append(
                    Violation(
                        unit_id,
                        prev_end,
                        nxt_start,
                        f"{role}_rest",
                        (person,),
                        f"rests {format_duration(rest)} between shifts as {role}, at least "
                        f"{format_duration(min_rest)} required",
                    )
                )
    return found


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The instant as the unit's clocks show it, for lengths in wall-clock time."""
    return instant.astimezone(zone).replace(tzinfo=None)
