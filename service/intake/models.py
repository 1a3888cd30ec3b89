"""What machines send, as dutyd accepts it: Alertmanager's webhook payload (version 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Labels = dict[str, str]


class AmAlert(BaseModel):
    """One alert of an Alertmanager notification."""

    model_config = ConfigDict(extra="ignore")
    status: Literal["firing", "resolved"]
    labels: Labels = Field(max_length=100)
    annotations: Labels = Field(default_factory=dict, max_length=100)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = Field("", max_length=2000)
    fingerprint: str = Field(min_length=1, max_length=64)


class AmNotification(BaseModel):
    """Alertmanager's webhook body (`webhook_configs`, version 4)."""

    model_config = ConfigDict(extra="ignore")
    version: Literal["4"]
    groupKey: str = Field(max_length=2000)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = Field(max_length=200)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: str = Field("", max_length=2000)
    alerts: list[AmAlert] = Field(min_length=1, max_length=10_000)
