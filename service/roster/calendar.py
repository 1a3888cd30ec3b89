"""Which days are public holidays, and which are declared sensitive periods, for a unit."""

from __future__ import annotations

from datetime import date
from functools import cache

import chinese_calendar

from service.roster.models import CalendarSettings, SensitivePeriod


@cache
def _official_holiday(day: date) -> bool | None:
    """China's official answer, or None for a year the package has no data for yet."""
    try:
        return bool(chinese_calendar.is_holiday(day))
    except NotImplementedError:
        return None


@cache
def _official_named_holiday(day: date) -> bool:
    """A named public holiday in China's calendar (not a plain weekend); False without data."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return False
    return bool(on_holiday and name)


class DutyCalendar:
    """Public holidays (with China's adjusted working days) and sensitive periods."""

    def __init__(self, settings: CalendarSettings, periods: list[SensitivePeriod]) -> None:
        self.settings = settings
        self.periods = periods
        self._extra_holidays = set(settings.extra_holidays)
        self._extra_workdays = set(settings.extra_workdays)

    def is_holiday(self, day: date) -> bool:
        """A public holiday or weekend that is not an adjusted working day (调休)."""
        if day in self._extra_holidays:
            return True
        if day in self._extra_workdays:
            return False
        if self.settings.source == "chinese":
            official = _official_holiday(day)
            if official is not None:
                return official
        return day.weekday() >= 5

    def has_official_data(self, day: date) -> bool:
        return self.settings.source != "chinese" or _official_holiday(day) is not None

    def unknown_from(self, first: date, last: date) -> date | None:
        """The first day in [first, last] of a year with no holiday calendar: no official
        data, and not declared complete in `known_years`. (One holiday listed does not make
        a year known: National Day would get no enhanced duty, silently.)"""
        listed = set(self.settings.known_years)
        for year in range(first.year, last.year + 1):
            day = max(first, date(year, 1, 1))
            if year not in listed and not self.has_official_data(day):
                return day
        return None

    def sensitive_period(self, day: date, unit_id: str) -> SensitivePeriod | None:
        for period in self.periods:
            if period.starts_on <= day <= period.ends_on and (
                not period.units or unit_id in period.units
            ):
                return period
        return None

    def is_enhanced(self, day: date, unit_id: str) -> bool:
        """Enhanced duty applies on public holidays and in sensitive periods."""
        return self.is_official_holiday(day) or self.sensitive_period(day, unit_id) is not None

    def is_official_holiday(self, day: date) -> bool:
        """A named public holiday (not a plain weekend)."""
        if day in self._extra_holidays:
            return True
        if day in self._extra_workdays or self.settings.source != "chinese":
            return False
        return _official_named_holiday(day)
