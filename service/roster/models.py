"""Units, people, duty rotations and standing positions, and who holds a role when."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.catalog import Channel

ROTATING_ROLES = ("duty_officer", "leader_on_shift")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    channel: Channel
    address: str = Field(min_length=3)


class Person(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    unit: str
    title: str = ""
    language: Literal["zh", "en"] = "zh"
    contacts: list[Contact] = Field(default_factory=list)

    def addresses(self, channel: Channel) -> list[str]:
        return [c.address for c in self.contacts if c.channel == channel]


class Unit(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
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


class Rotation(_Strict):
    """People take a rotating role in turn, one shift of `every_days` days each.

    A shift starts at the handover time, local wall-clock time of the unit, so a shift
    spanning a daylight-saving change starts at the same clock time on both sides.
    """

    unit: str
    role: Literal["duty_officer", "leader_on_shift"]
    handover: time
    start: date
    every_days: int = Field(1, ge=1, le=31)
    people: list[str] = Field(min_length=1)

    def holder_at(self, local: datetime) -> str:
        shift_day = local.date()
        if local.timetz().replace(tzinfo=None) < self.handover:
            shift_day -= timedelta(days=1)
        shift_number = (shift_day - self.start).days // self.every_days
        return self.people[shift_number % len(self.people)]


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
