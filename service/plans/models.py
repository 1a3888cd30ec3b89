"""Emergency plans: scope, and the escalation each level calls for."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.catalog import Category, Channel, Level
from service.durations import Duration


class PlanKind(StrEnum):
    master = "master"
    special = "special"
    department = "department"
    county = "county"


# When two plans cover an incident equally well on scope, the more specific kind wins.
KIND_RANK = {PlanKind.master: 0, PlanKind.special: 1, PlanKind.department: 2, PlanKind.county: 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Who to notify: a role resolved from the roster at that moment, or a named person.

    `unit` says whose role: `incident` (the incident's unit), `parent` (the unit above
    it), or a unit id.
    """

    role: str | None = None
    person: str | None = None
    unit: str = "incident"

    @model_validator(mode="after")
    def _role_or_person(self) -> Target:
        if (self.role is None) == (self.person is None):
            raise ValueError("a target names exactly one of 'role' or 'person'")
        return self

    def describe(self) -> str:
        if self.person:
            return f"person {self.person}"
        return f"{self.role} of {self.unit}"


class Step(_Strict):
    notify: list[Target] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    wait: Duration = Field(
        description="How long to wait for an acknowledgement before the next step."
    )

    @model_validator(mode="after")
    def _positive_wait(self) -> Step:
        if self.wait <= timedelta(0):
            raise ValueError("wait must be longer than zero")
        return self


class Escalation(_Strict):
    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="Times the whole chain runs again.")


class LevelRules(_Strict):
    escalation: Escalation | None = None


class Scope(_Strict):
    units: list[str] = Field(
        default_factory=list, description="Units covered, with their subunits."
    )
    categories: list[Category] = Field(default_factory=list)
    event_types: list[str] = Field(default_factory=list)
    levels: list[Level] = Field(default_factory=lambda: list(Level))


class Plan(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: PlanKind
    title: str
    scope: Scope = Field(default_factory=Scope)
    escalation: Escalation | None = None
    levels: dict[Level, LevelRules] = Field(default_factory=dict)

    def escalation_for(self, level: Level) -> Escalation | None:
        rules = self.levels.get(level)
        if rules is not None and rules.escalation is not None:
            return rules.escalation
        return self.escalation


class LoadedPlan(BaseModel):
    """A plan with where it came from and the digest of its exact content."""

    model_config = ConfigDict(frozen=True)

    plan: Plan
    source_file: str
    digest: str
    content: str


Source = Literal["phone", "duty_officer", "webhook", "automated"]
