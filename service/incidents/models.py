"""Incident schemas for input and output."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.catalog import Category, Level
from service.plans.models import Source


class IncidentStatus(StrEnum):
    reported = "reported"
    acknowledged = "acknowledged"
    responding = "responding"
    resolved = "resolved"
    closed = "closed"


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
    occurred_at: AwareDatetime | None = None
    learned_at: AwareDatetime | None = Field(
        None, description="When the office learned of it; deadlines run from here. Default: now."
    )
    source: Source = "duty_officer"


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


class IncidentView(BaseModel):
    id: int
    category: Category
    event_type: str
    level: Level
    unit: str
    title: str
    description: str
    location: str | None
    source: str
    reporter: str
    status: IncidentStatus
    occurred_at: datetime | None
    learned_at: datetime
    created_at: datetime
    plan_id: str
    plan_version: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class IncidentDetail(IncidentView):
    timeline: list[TimelineEntry]
    messages: list[MessageView]
