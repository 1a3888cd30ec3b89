"""Shift instances in real time, from wall-clock shift windows in a unit's zone.

Instances are computed often (every unit, every day of a checked period, every "who is on"
question) and most units share a zone and a shift window, so the conversion of one shift's
wall-clock bounds to UTC is cached. Comparisons are made in UTC: comparing datetimes that
carry different time zones is many times slower than comparing two UTC ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from service.roster.models import ShiftWindow

ONE_DAY = timedelta(days=1)


def wall_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time to UTC.

    A time skipped by a spring-forward change (02:30 when clocks jump from 02:00 to
    03:00) moves forward by the gap (to 03:30), so it never lands before earlier times of
    the same day; a time that occurs twice in autumn is taken at its first occurrence.
    """
    # fold=0 reads a skipped time with the offset before the jump, which is the forward
    # shift, and a repeated time at its first occurrence: both as documented above.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC, for cheap comparisons; a naive datetime is refused."""
    if moment.tzinfo is UTC:
        return moment
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
    if window.shift_start.tzinfo is None:
        return _covering(window.shift_start, window.shift_length, at, zone)
    local_day = at.astimezone(zone).date()
    for back in range(int(window.shift_length / ONE_DAY) + 2):
        candidate = instance(window, local_day - timedelta(days=back), zone)
        if candidate.start <= at < candidate.end:
            return candidate
    return None


@lru_cache(maxsize=1024)
def _covering(
    shift_start: time, shift_length: timedelta, at: datetime, zone: ZoneInfo
) -> ShiftInstance | None:
    """`instance_at` for a naive shift start; asked for every unit sharing zone and window."""
    local_day = at.astimezone(zone).date()
    for back in range(int(shift_length / ONE_DAY) + 2):
        shift_date = local_day - timedelta(days=back)
        start, end = _bounds(datetime.combine(shift_date, shift_start), shift_length, zone)
        if start <= at < end:
            return ShiftInstance(shift_date, start, end)
    return None


def instances_between(
    window: ShiftWindow, start: datetime, end: datetime, zone: ZoneInfo
) -> list[ShiftInstance]:
    """Every instance overlapping [start, end)."""
    start, end = as_utc(start), as_utc(end)
    if window.shift_start.tzinfo is None:
        return list(_between(window.shift_start, window.shift_length, start, end, zone))
    return _overlapping(window, start, end, zone)


@lru_cache(maxsize=64)
def _between(
    shift_start: time, shift_length: timedelta, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[ShiftInstance, ...]:
    """`instances_between` for a naive shift start, shared by every unit with this window.

    A checked period asks this for each unit and role: all but the first of the units
    sharing a zone and a shift window get the answer from here.
    """
    window = ShiftWindow(shift_start=shift_start, shift_length=shift_length)
    return tuple(_overlapping(window, start, end, zone))


def _overlapping(
    window: ShiftWindow, start: datetime, end: datetime, zone: ZoneInfo
) -> list[ShiftInstance]:
    """Every instance overlapping [start, end), both in UTC."""
    day = start.astimezone(zone).date() - 2 * ONE_DAY
    last_day = end.astimezone(zone).date()
    result = []
    while day <= last_day:
        item = instance(window, day, zone)
        if item.end > start and item.start < end:
            result.append(item)
        day += ONE_DAY
    return result
