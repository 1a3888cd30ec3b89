"""The plan language: what a plan file may say, and a plan resolved for use.

A plan file (`PlanDocument`) gives rules in `defaults` and per level in `levels`; every
rule key is optional there. Resolving a plan walks its `extends` chain from the root:
each plan's `defaults`, then its rules for the level, replace what came before, key by
key (`reports` and `templates` item by item). The result (`ResolvedPlan`) has complete
rules for every level in scope and remembers which file each value came from.
"""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    model_validator,
)

from service.catalog import Category, Level, PersonChannel, ReportMedium
from service.durations import Duration


class PlanKind(StrEnum):
    master = "master"
    special = "special"
    department = "department"
    county = "county"


# When two plans cover an incident equally well on scope, the more specific kind wins.
KIND_RANK = {PlanKind.master: 0, PlanKind.special: 1, PlanKind.department: 2, PlanKind.county: 3}

Source = Literal["phone", "duty_officer", "webhook", "automated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Who: a role resolved from the roster at that moment, a named person, or a group.

    `unit` says whose role: `incident` (the incident's unit), `parent` (the unit above
    it), `top` (the highest unit above it), or a unit id.
    """

    role: str | None = Field(None, pattern=r"^[a-z0-9_]+$")
    person: str | None = None
    group: str | None = None
    unit: str = "incident"

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if sum(x is not None for x in (self.role, self.person, self.group)) != 1:
            raise ValueError("a target names exactly one of 'role', 'person' or 'group'")
        return self

    def describe(self) -> str:
        if self.person:
            return f"person {self.person}"
        if self.group:
            return f"group {self.group}"
        return f"{self.role} of {self.unit}"


class NotifyRule(_Strict):
    """People told at once when an incident is logged (for information; no ack awaited)."""

    targets: list[Target] = Field(min_length=1)
    channels: list[PersonChannel] = Field(min_length=1)


class Step(_Strict):
    notify: list[Target] = Field(min_length=1)
    channels: list[PersonChannel] = Field(min_length=1)
    wait: Duration = Field(description="How long to wait for an acknowledgement.")
    repeat: int = Field(0, ge=0, le=10, description="Times this step is repeated before the next.")

    @model_validator(mode="after")
    def _positive_wait(self) -> Step:
        if self.wait <= timedelta(0):
            raise ValueError("wait must be longer than zero")
        return self


class AfterLast(StrEnum):
    stop = "stop"
    alert_duty_office = "alert_duty_office"


class Escalation(_Strict):
    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="Times the whole chain runs again.")
    after_last: AfterLast = Field(
        AfterLast.alert_duty_office,
        description="When every step and repeat went unanswered: stop, or alert the duty "
        "officer and leader on shift of the top unit that nobody acknowledged.",
    )

    renotify_after: Duration | None = Field(
        None,
        description="An acknowledged incident not resolved this long after the acknowledgement "
        "goes back to unacknowledged and the chain starts again.",
    )

    def flat_steps(self) -> list[Step]:
        """Steps with their own repeats spelled out: what the engine walks through."""
        return [step for step in self.steps for _ in range(step.repeat + 1)]


class EscalationAppend(_Strict):
    """Steps added after the inherited chain's own (a county adds one after the city's)."""

    append: list[Step] = Field(min_length=1)


# The tags are not plan keys, so that an error's path in the file leaves them out.
def _escalation_form(value: object) -> str:
    if isinstance(value, dict):
        return "appended-steps" if "append" in value else "whole-chain"
    return "appended-steps" if isinstance(value, EscalationAppend) else "whole-chain"


EscalationRule = Annotated[
    Annotated[Escalation, Tag("whole-chain")] | Annotated[EscalationAppend, Tag("appended-steps")],
    Discriminator(_escalation_form),
]


class Response(_Strict):
    level: Level = Field(description="The response level started (I highest).")
    command: list[Target] = Field(default_factory=list, description="Who takes command.")


class ReportDuty(_Strict):
    """A report someone must make, by a deadline counted from when the office learned of it."""

    to: list[Target] = Field(min_length=1, description="Who receives the report.")
    responsible: Target = Field(default_factory=lambda: Target(role="duty_officer"))
    deadline: Duration
    via: list[ReportMedium] = Field(default_factory=lambda: [ReportMedium.written], min_length=1)
    remind_before: Duration | None = None


class ReportHop(ReportDuty):
    """One hop of a reporting chain up the levels of government (逐级上报): the office that
    reports, to whom, by when. Its deadline counts from when the reporting office learned
    of the event: from the report of the hop named in `after` (that report is how it
    learned), or, for a first hop, from when the incident's office learned of it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    after: str | None = Field(
        None, description="The hop whose report tells this hop's office of the event."
    )


# A time of day as plans write it and people read it: 08:00, not 08:00:00.
ClockTime = Annotated[time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]


class FollowUps(_Strict):
    """Follow-up reports (續報): on a cadence, or at fixed local times of day."""

    to: list[Target] = Field(min_length=1)
    responsible: Target = Field(default_factory=lambda: Target(role="duty_officer"))
    every: Duration | None = None
    at: list[ClockTime] = Field(default_factory=list, description="Local times of day, e.g. 08:00.")
    on_change: Duration | None = Field(
        None,
        description="A follow-up owed within this long of a change of the casualty figures "
        "or of the level, besides the cadence.",
    )
    via: list[ReportMedium] = Field(default_factory=lambda: [ReportMedium.written], min_length=1)
    remind_before: Duration | None = None

    @model_validator(mode="after")
    def _cadence_or_times(self) -> FollowUps:
        if self.every is not None and self.at:
            raise ValueError("follow-ups take 'every' or 'at', not both")
        if self.every is None and not self.at and self.on_change is None:
            raise ValueError("follow-ups need one of 'every', 'at' or 'on_change'")
        if self.on_change is not None and self.on_change <= timedelta(0):
            raise ValueError("follow-ups 'on_change' must be longer than zero")
        if self.every is not None and self.every < timedelta(minutes=10):
            raise ValueError("follow-ups 'every' must be at least 10m")
        return self


class Reports(_Strict):
    initial: ReportDuty | None = None
    written: ReportDuty | None = None
    chain: list[ReportHop] | None = Field(
        None, description="Reports passed up from level to level, each with its own deadline."
    )
    followups: FollowUps | None = None
    final: ReportDuty | None = Field(None, description="Deadline counted from resolution.")
    supplement_window: Duration | None = Field(
        None, description="How long casualty figures may still be supplemented (補報)."
    )
    supplement_from: Literal["occurred", "learned", "resolved"] = Field(
        "occurred",
        description="What the supplement window counts from: the event (the rule: 30 days, "
        "7 for road traffic and fire), when the office learned of it, or the resolution.",
    )
    late_escalation: list[Step] | None = Field(
        None,
        description="Who is told when a report is late, step by step until it is made. "
        "Default: the leader on shift of the incident's unit, by SMS and email.",
    )

    @model_validator(mode="after")
    def _hops_in_order(self) -> Reports:
        seen: set[str] = set()
        for hop in self.chain or []:
            if hop.id in seen:
                raise ValueError(f"chain: hop id {hop.id!r} is used twice")
            if hop.after is not None and hop.after not in seen:
                raise ValueError(
                    f"chain: hop {hop.id!r} comes after {hop.after!r}, which is not an "
                    "earlier hop of the chain"
                )
            seen.add(hop.id)
        return self


CasualtyFigure = Literal[
    "deaths", "seriously_injured", "injured", "missing", "trapped", "evacuated"
]


class CasualtyLevels(_Strict):
    """Figures that make an event of a level: the most severe level any figure of which is
    reached (e.g. production safety: I at 30 deaths or 100 seriously injured)."""

    categories: list[Category] = Field(default_factory=list, description="Default: all.")
    event_types: list[str] = Field(default_factory=list, description="Default: all.")
    levels: dict[Level, dict[CasualtyFigure, Annotated[int, Field(ge=1)]]] = Field(min_length=1)
    on_crossing: Literal["raise", "ask"] = Field(
        "ask",
        description="When figures reach a more severe level than the incident has: raise it "
        "at once, or put the level to the officer to confirm.",
    )

    @model_validator(mode="after")
    def _severity_order(self) -> CasualtyLevels:
        ordered = [level for level in reversed(Level) if level in self.levels]  # IV first
        for lower, higher in pairwise(ordered):
            for figure, count in self.levels[higher].items():
                below = self.levels[lower].get(figure)
                if below is not None and count <= below:
                    raise ValueError(
                        f"level {higher.value} needs more {figure} than level {lower.value} "
                        f"({count} is not above {below})"
                    )
        return self

    def covers(self, category: str, event_type: str) -> bool:
        return (not self.categories or category in self.categories) and (
            not self.event_types or event_type in self.event_types
        )


class LocalizedText(_Strict):
    zh: str
    en: str


class Templates(_Strict):
    sms: LocalizedText | None = None
    email_subject: LocalizedText | None = None
    email_body: LocalizedText | None = None


class LevelRules(_Strict):
    """Rules as written in a file: any key may be left to the parent plan or defaults."""

    response: Response | None = None
    notify: list[NotifyRule] | None = None
    reports: Reports | None = None
    escalation: EscalationRule | None = None
    templates: Templates | None = None


class Scope(_Strict):
    units: list[str] = Field(default_factory=list, description="Units covered, with subunits.")
    categories: list[Category] = Field(default_factory=list)
    event_types: list[str] = Field(default_factory=list)
    levels: list[Level] = Field(default_factory=lambda: list(Level), min_length=1)


class PlanDocument(_Strict):
    """One plan file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: PlanKind
    title: str = Field(min_length=1)
    extends: str | None = None
    scope: Scope | None = None
    groups: dict[str, list[Target]] = Field(default_factory=dict)
    casualty_levels: list[CasualtyLevels] | None = Field(
        None, description="Figures that make each level; the first rule covering it applies."
    )
    defaults: LevelRules = Field(default_factory=LevelRules)
    levels: dict[Level, LevelRules] = Field(default_factory=dict)


class EffectiveRules(BaseModel):
    """Complete rules for one level after inheritance."""

    model_config = ConfigDict(frozen=True)

    response: Response | None = None
    notify: list[NotifyRule] = Field(default_factory=list)
    reports: Reports = Field(default_factory=Reports)
    escalation: Escalation | None = None
    templates: Templates = Field(default_factory=Templates)


class ResolvedPlan(BaseModel):
    """A plan ready for use: inheritance applied, every level complete, origins kept."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: PlanKind
    title: str
    chain: list[str] = Field(description="Plan ids from the root of `extends` to this plan.")
    source_file: str
    scope: Scope
    groups: dict[str, list[Target]]
    casualty_levels: list[CasualtyLevels] = Field(default_factory=list)
    levels: dict[Level, EffectiveRules]
    origins: dict[Level, dict[str, str]] = Field(
        description="For each level and rule, the file and section it came from."
    )

    def rules(self, level: Level) -> EffectiveRules:
        return self.levels[level]


class LoadedPlan(BaseModel):
    """A resolved plan with the digest of its exact resolved content, as archived."""

    model_config = ConfigDict(frozen=True)

    plan: ResolvedPlan
    source_file: str
    digest: str
    content: str
