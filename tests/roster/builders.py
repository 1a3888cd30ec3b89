"""Small rosters built in code, one concern at a time."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from service.roster.calendar import DutyCalendar
from service.roster.models import CalendarSettings
from service.roster.roster import Roster, RosterDocument
from service.roster.rules import DutyRules, RulesDocument


def person(pid: str, rank: int = 3, contacts: bool = True, unit: str = "u") -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid.upper(),
        "unit": unit,
        "rank": rank,
        "contacts": [{"channel": "sms", "address": f"+86138{abs(hash(pid)) % 10**8:08d}"}]
        if contacts
        else [],
    }


def rotation(
    role: str,
    people: list[str],
    start: str = "08:30",
    length: str = "24h",
    starts_on: date = date(2026, 1, 1),
    every_days: int = 1,
    unit: str = "u",
) -> dict[str, Any]:
    return {
        "unit": unit,
        "role": role,
        "people": people,
        "shift_start": start,
        "shift_length": length,
        "starts_on": starts_on.isoformat(),
        "every_days": every_days,
    }


def roster(zone: str = "Asia/Shanghai", **sections: Any) -> Roster:
    data: dict[str, Any] = {
        "units": [{"id": "u", "name": "Unit", "timezone": zone}],
        "people": [
            person("a"),
            person("b"),
            person("c"),
            person("boss", rank=6),
            person("vice", rank=6),
        ],
        "rotations": [
            rotation("duty_officer", ["a", "b", "c"]),
            rotation("leader_on_shift", ["boss", "vice"]),
        ],
    }
    data.update(sections)
    return Roster.from_document(RosterDocument.model_validate(data))


def rules(**sections: Any) -> DutyRules:
    return DutyRules(RulesDocument.model_validate(sections))


def calendar(
    holidays: list[date] | None = None,
    periods: list[Any] | None = None,
    source: str = "none",
    known_years: list[int] | None = None,
) -> DutyCalendar:
    return DutyCalendar(
        CalendarSettings(
            source=source,  # type: ignore[arg-type]
            extra_holidays=holidays or [],
            known_years=known_years or [],
        ),
        periods or [],
    )


ONE_DAY = timedelta(days=1)
SHIFT_START = time(8, 30)
