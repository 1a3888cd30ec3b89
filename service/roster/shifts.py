"""Shift instances in real time, from wall-clock shift windows in a unit's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.roster.models import ShiftWindow


def wall_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time to UTC.

    A time skipped by a spring-forward change is taken as the instant the clocks jumped
    to; a time that occurs twice in autumn is taken at its first occurrence.
    """
    first = local.replace(tzinfo=zone, fold=0)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != local:  # inside a spring-forward gap: move to the end of the gap
        return local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return first.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    shift_date: date
    start: datetime
    end: datetime


def instance(window: ShiftWindow, shift_date: date, zone: ZoneInfo) -> ShiftInstance:
    begin = datetime.combine(shift_date, window.shift_start)
    return ShiftInstance(
        shift_date,
        wall_to_utc(begin, zone),
        wall_to_utc(begin + window.shift_length, zone),
    )


def instance_at(window: ShiftWindow, at: datetime, zone: ZoneInfo) -> ShiftInstance | None:
    """The instance of this daily window that covers instant `at`, if any."""
    local_day = at.astimezone(zone).date()
    days_back = int(window.shift_length / timedelta(days=1)) + 1
    for back in range(days_back + 1):
        candidate = instance(window, local_day - timedelta(days=back), zone)
        if candidate.start <= at < candidate.end:
            return candidate
    return None


def instances_between(
    window: ShiftWindow, start: datetime, end: datetime, zone: ZoneInfo
) -> list[ShiftInstance]:
    """Every instance overlapping [start, end)."""
    first_day = start.astimezone(zone).date() - timedelta(days=2)
    last_day = end.astimezone(zone).date()
    result = []
    day = first_day
    while day <= last_day:
        item = instance(window, day, zone)
        if item.end > start and item.start < end:
            result.append(item)
        day += timedelta(days=1)
    return result
