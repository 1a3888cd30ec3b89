"""iCal (RFC 5545) feeds of shifts, for one person or one unit."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from service.roster.models import ROTATING_ROLES
from service.roster.roster import Assignment, Roster

ROLE_NAMES = {"duty_officer": "值班 duty officer", "leader_on_shift": "带班 leader on shift"}


def shifts_for(
    roster: Roster, *, kind: str, subject: str, start: datetime, end: datetime
) -> list[Assignment]:
    if kind == "unit":
        units = [subject]
    else:
        units = list(roster.units)
    found = [
        a
        for unit_id in units
        for role in ROTATING_ROLES
        for a in roster.assignments(unit_id, role, start, end, clip=False)
        if kind == "unit" or a.person == subject
    ]
    return sorted(found, key=lambda a: (a.start, a.role, a.person))


def feed(
    roster: Roster, *, kind: str, subject: str, start: datetime, end: datetime, now: datetime
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//dutyd//duty roster//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    title = roster.units[subject].name if kind == "unit" else roster.people[subject].name
    calendar.add("x-wr-calname", f"值班 {title}")
    for shift in shifts_for(roster, kind=kind, subject=subject, start=start, end=end):
        unit = roster.units[shift.unit]
        person = roster.people[shift.person]
        event = Event()
        # Stable across feed refreshes, so calendar apps update rather than duplicate.
        event.add(
            "uid", f"{shift.unit}.{shift.role}.{shift.person}.{shift.start:%Y%m%dT%H%M%SZ}@dutyd"
        )
        event.add("dtstamp", now)
        event.add("dtstart", shift.start.astimezone(unit.zone))
        event.add("dtend", shift.end.astimezone(unit.zone))
        event.add("summary", f"{ROLE_NAMES[shift.role]}: {person.name} ({unit.name})")
        event.add(
            "description", f"{unit.name} · {ROLE_NAMES[shift.role]} · {person.name} {person.title}"
        )
        event.add("categories", [shift.role])
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
