"""Shift instances in real time, from wall-clock shift windows in a unit's zone.

Instances are computed often (every unit, every day of a checked period, every "who is on"
question) and most units share a zone and a shift window, so the conversion of one shift's
wall-clock bounds to UTC is cached. Comparisons are made in UTC: comparing datetimes that
carry different time zones is many times slower than comparing two UTC ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from service.roster.models import ShiftWindow

ONE_DAY = timedelta(days=1)


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


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC, for cheap comparisons; a naive datetime is refused."""
    if moment.utcoffset() is None:
        raise TypeError("can't compare offset-naive and offset-aware datetimes")
    return moment.astimezone(UTC)


@lru_cache(maxsize=16384)
def _bounds(begin: datetime, length: timedelta, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a shift beginning at naive wall-clock `begin` in `zone`.

    Keyed by the naive wall-clock time, whose equality is field by field, so a cached
    answer is always the one `wall_to_utc` would give. About 370 entries per zone and
    shift start cover a year.
    """
    return wall_to_utc(begin, zone), wall_to_utc(begin + length, zone)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    shift_date: date
    start: datetime
    end: datetime


def instance(window: ShiftWindow, shift_date: date, zone: ZoneInfo) -> ShiftInstance:
    begin = datetime.combine(shift_date, window.shift_start)
    if begin.tzinfo is None:
        start, end = _bounds(begin, window.shift_length, zone)
    else:  # a shift start written with an offset: rare, not worth caching
        start = wall_to_utc(begin, zone)
        end = wall_to_utc(begin + window.shift_length, zone)
    return ShiftInstance(shift_date, start, end)


def instance_at(window: ShiftWindow, at: datetime, zone: ZoneInfo) -> ShiftInstance | None:
    """The instance of this daily window that covers instant `at`, if any."""
    at = as_utc(at)
    local_day = at.astimezone(zone).date()
    days_back = int(window.shift_length / ONE_DAY) + 1
    for back in range(days_back + 1):
        candidate = instance(window, local_day - timedelta(days=back), zone)
        if candidate.start <= at < candidate.end:
            return candidate
    return None


def instances_between(
    window: ShiftWindow, start: datetime, end: datetime, zone: ZoneInfo
) -> list[ShiftInstance]:
    """Every instance overlapping [start, end)."""
    start, end = as_utc(start), as_utc(end)
    day = start.astimezone(zone).date() - 2 * ONE_DAY
    last_day = end.astimezone(zone).date()
    result = []
    while day <= last_day:
        item = instance(window, day, zone)
        if item.end > start and item.start < end:
            result.append(item)
        day += ONE_DAY
    return result
