"""Incident schemas for input and output."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from service.catalog import Category, Level
from service.plans.models import Source


class IncidentStatus(StrEnum):
    reported = "reported"
    acknowledged = "acknowledged"
    responding = "responding"
    resolved = "resolved"
    closed = "closed"


OPEN_STATUSES = (IncidentStatus.reported, IncidentStatus.acknowledged, IncidentStatus.responding)

# Where an incident may go from each state. Re-opening a resolved incident is allowed.
TRANSITIONS: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.reported: (
        IncidentStatus.acknowledged,
        IncidentStatus.responding,
        IncidentStatus.resolved,
    ),
    IncidentStatus.acknowledged: (IncidentStatus.responding, IncidentStatus.resolved),
    IncidentStatus.responding: (IncidentStatus.resolved,),
    IncidentStatus.resolved: (IncidentStatus.closed, IncidentStatus.responding),
    IncidentStatus.closed: (),
}
# An acknowledgement that nobody followed with a resolution in time lapses (the engine's
# ack timeout): the incident is unacknowledged again and its escalation starts over.
ACK_EXPIRY: dict[IncidentStatus, IncidentStatus] = {
    IncidentStatus.acknowledged: IncidentStatus.reported,
    IncidentStatus.responding: IncidentStatus.reported,
}
LEVEL_ORDER = {Level.I: 4, Level.II: 3, Level.III: 2, Level.IV: 1}


class Casualties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deaths: int = Field(0, ge=0)
    injured: int = Field(0, ge=0)
    seriously_injured: int = Field(0, ge=0)
    missing: int = Field(0, ge=0)
    trapped: int = Field(0, ge=0)
    evacuated: int = Field(0, ge=0)


class ReceivedVia(StrEnum):
    """How the office heard of it (接报方式)."""

    phone = "phone"
    fax = "fax"
    system = "system"
    in_person = "in_person"
    sms = "sms"
    email = "email"
    radio = "radio"


class Intake(BaseModel):
    """The intake record a duty officer keeps (接报登记) besides what happened."""

    model_config = ConfigDict(extra="forbid")

    reporter_name: str = Field("", max_length=128, description="Who reported it to the office.")
    reporter_unit: str = Field("", max_length=200, description="The reporter's unit or address.")
    reporter_phone: str = Field("", max_length=64, description="A number to call them back on.")
    received_via: ReceivedVia | None = Field(None, description="How the office heard of it.")
    actions_taken: str = Field("", max_length=5000, description="What was already done.")
    others_told: str = Field("", max_length=2000, description="Who else has been told.")


class IncidentReport(BaseModel):
    """What a duty officer or a machine reports."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    event_type: str = Field(
        min_length=1, max_length=64, description="An event type of the category."
    )
    level: Level
    unit: str = Field(min_length=1, max_length=64, description="Unit id from the roster.")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20000)
    location: str | None = Field(None, max_length=300)
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    occurred_at: AwareDatetime | None = None
    learned_at: AwareDatetime | None = Field(
        None, description="When the office learned of it; deadlines run from here. Default: now."
    )
    source: Source = "duty_officer"
    reporter: str | None = Field(None, max_length=128, description="Default: the caller.")
    casualties: Casualties = Field(default_factory=Casualties)
    losses: str = Field("", max_length=5000, description="Economic and other losses.")
    intake: Intake = Field(default_factory=Intake)
    attachments: list[str] = Field(
        default_factory=list, max_length=50, description="References (URLs, document numbers)."
    )
    dedup_key: str | None = Field(
        None,
        max_length=200,
        description="A report with the key of an open incident updates it instead of opening one.",
    )
    confirm_learned_at: bool = Field(
        False,
        description="The office really learned of it at `learned_at`, though that is long ago "
        "or before `occurred_at`; without this such a report is refused.",
    )

    @field_validator("occurred_at", "learned_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Instants are kept in UTC (the stored form), whatever offset they were given in."""
        return value.astimezone(UTC) if value is not None else None


class CasualtyUpdate(BaseModel):
    """New figures as now known (they replace the old ones, and may correct them down)."""

    model_config = ConfigDict(extra="forbid")

    casualties: Casualties
    losses: str | None = Field(None, max_length=5000, description="Default: unchanged.")
    note: str = Field("", max_length=2000, description="Where the figures come from.")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: IncidentStatus
    note: str = Field("", max_length=2000)


class LevelChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level
    reason: str = Field(min_length=1, max_length=2000)


class CategoryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    event_type: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]


class MessageView(BaseModel):
    id: int
    person_id: str
    channel: str
    address: str
    state: str
    transport: str | None
    provider_id: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    digest_of: int | None = Field(
        None, description="The digest message that carried this one (state `bundled`)."
    )


class DutyView(BaseModel):
    id: int
    kind: str
    sequence: int
    hop: str | None = Field(None, description="The reporting-chain hop, for kind `hop`.")
    name: str = Field(description="The report as people call it: 续报二, 报县政府值班室.")
    due_at: datetime
    state: str
    late: bool
    responsible: str
    recipients: list[Any]
    submitted_at: datetime | None
    submitted_by: str | None


class IncidentView(BaseModel):
    id: int
    category: Category
    event_type: str
    level: Level
    unit: str
    title: str
    description: str
    location: str | None
    latitude: float | None
    longitude: float | None
    casualties: dict[str, Any]
    losses: str
    intake: Intake
    proposed_level: Level | None = Field(
        None, description="A level the casualty figures imply, awaiting the officer's decision."
    )
    proposed_reason: str | None = None
    attachments: list[Any]
    source: str
    reporter: str
    dedup_key: str | None
    silenced: bool
    status: IncidentStatus
    occurred_at: datetime | None
    learned_at: datetime
    created_at: datetime
    plan_id: str
    plan_version: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    drill_id: int | None = Field(
        None, description="The drill (演练) this incident is part of; not counted in the figures."
    )


class MachineReports(BaseModel):
    """The machine reports an incident has had (the same alert again counts here)."""

    count: int
    last_at: datetime


class IncidentDetail(IncidentView):
    deduplicated: bool = False
    machine_reports: MachineReports | None = None
    timeline: list[TimelineEntry]
    messages: list[MessageView]
    reports: list[DutyView]
