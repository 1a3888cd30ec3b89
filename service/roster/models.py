"""Roster data: units, people, rotations, duty tables, overrides, positions, special periods.

Every time of day is wall-clock time in the unit's own time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from service.catalog import Channel, PersonChannel
from service.durations import Duration

ROTATING_ROLES = ("duty_officer", "leader_on_shift")
RotatingRole = Literal["duty_officer", "leader_on_shift"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    channel: PersonChannel
    address: str = Field(min_length=3)


class Person(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1)
    unit: str
    title: str = ""
    rank: int = Field(1, ge=1, le=10, description="Seniority: 1 staff … 10 most senior.")
    language: Literal["zh", "en"] = "zh"
    contacts: list[Contact] = Field(default_factory=list, description="In order of preference.")

    def addresses(self, channel: Channel) -> list[str]:
        return [c.address for c in self.contacts if c.channel == channel]


class Unit(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    parent: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ShiftWindow(_Strict):
    """A daily shift: starts at a wall-clock time and lasts a wall-clock length.

    A 24h shift from 08:30 ends at 08:30 the next day, local time, even across a
    daylight-saving change (then it lasts 23 or 25 real hours): handovers stay where
    the office expects them and no gap or overlap appears.
    """

    shift_start: time = time(8, 30)
    shift_length: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _sane_length(self) -> ShiftWindow:
        if not timedelta(hours=1) <= self.shift_length <= timedelta(hours=48):
            raise ValueError("shift_length must be between 1h and 48h")
        return self


class Rotation(ShiftWindow):
    """People take a rotating role in turn, each for `every_days` days of shifts."""

    unit: str
    role: RotatingRole
    starts_on: date = Field(description="The first shift date; people[0] takes it.")
    every_days: int = Field(1, ge=1, le=31)
    people: list[str] = Field(min_length=1)

    def person_on(self, shift_date: date) -> str | None:
        if shift_date < self.starts_on:
            return None
        return self.people[
            ((shift_date - self.starts_on).days // self.every_days) % len(self.people)
        ]


class DutyAssignment(ShiftWindow):
    """One line of an explicit duty table (值班表): it replaces the rotation for that shift."""

    date: date
    unit: str
    role: RotatingRole
    person: str


class Override(_Strict):
    """One person takes (part of) another's shift: a swap is two of these.

    With `replaces`, only that person is replaced; without it, the override person holds
    the role alone for the period. Stored apart from rotations, so editing a rotation
    never loses an override.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    unit: str
    role: RotatingRole
    start: AwareDatetime
    end: AwareDatetime
    person: str
    replaces: str | None = None
    reason: str = ""
    requested_by: str
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")
        if self.approved_by is not None and self.approved_at is None:
            raise ValueError("approved_by needs approved_at")
        return self

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


class Position(_Strict):
    """A standing role, such as the head of a unit or the director of its duty office."""

    unit: str
    role: str = Field(pattern=r"^[a-z0-9_]+$")
    person: str

    @model_validator(mode="after")
    def _not_rotating(self) -> Position:
        if self.role in ROTATING_ROLES:
            raise ValueError(f"role {self.role!r} is given by a rotation, not a position")
        return self


class SensitivePeriod(_Strict):
    """A declared period of enhanced duty (major event, anniversary, flood season…)."""

    name: str
    starts_on: date
    ends_on: date = Field(description="Inclusive.")
    units: list[str] = Field(default_factory=list, description="Empty: every unit.")

    @model_validator(mode="after")
    def _ordered(self) -> SensitivePeriod:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class CalendarSettings(_Strict):
    """Which days are public holidays: China's official calendar, or none, plus extras."""

    source: Literal["chinese", "none"] = "chinese"
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    known_years: list[int] = Field(
        default_factory=list,
        description="Years whose holidays and adjusted working days are listed in full in "
        "extra_holidays and extra_workdays (once the State Council has published them); "
        "until a year is official or listed here, dutyd warns that it has no calendar.",
    )
