"""What starting a drill takes, and what its report says."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.catalog import Level


class DrillStart(BaseModel):
    """Run `plan` as a drill at `level` for `unit` (`dutyd drill start`, POST /api/v1/drills)."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=128, description="The id of the plan to drill.")
    level: Level
    unit: str = Field(min_length=1, max_length=64, description="The unit the drill is held in.")
    event_type: str | None = Field(
        None, max_length=64, description="Default: the first the plan names."
    )
    title: str | None = Field(None, max_length=250, description="Default: from the plan.")
    scenario: str = Field("", max_length=20000, description="What the drill pretends happened.")
    stand_ins: dict[str, str] = Field(
        default_factory=dict,
        description="A drill roster: role -> the person who plays it. Roles not named are "
        "reached as the real roster says.",
    )
    public_warnings: bool = Field(
        False,
        description="Whether warnings raised in the drill may reach the public lists; "
        "otherwise only recipients who take part in drills get them.",
    )


class ReportLine(BaseModel):
    """One line of a drill report: something the plan asked for, when it was due and when
    it was done."""

    section: str  # step, message, acknowledgement, report
    what: str
    who: str = ""
    planned_at: datetime | None = None
    actual_at: datetime | None = None
    outcome: str  # on_time, late, missed, delivered, failed, unreached, pending, done

    @property
    def delay_seconds(self) -> int | None:
        if self.planned_at is None or self.actual_at is None:
            return None
        return int((self.actual_at - self.planned_at).total_seconds())


class DrillReport(BaseModel):
    drill_id: int
    title: str
    plan_id: str
    level: str
    unit: str
    timezone: str  # the unit's: the report's times are on its clock
    incident_id: int | None
    started_at: datetime
    ended_at: datetime | None
    lines: list[ReportLine]

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)
