"""A generic JSON webhook's body: one alert or a list of them, each with labels (what the
mapping rules match on), annotations, a status, and a key that makes it the same alert."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.intake.tables import ACCEPTED

Labels = dict[str, str]


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["firing", "resolved"] = "firing"
    labels: Labels = Field(min_length=1, max_length=100)
    annotations: Labels = Field(default_factory=dict, max_length=100)
    dedup_key: str | None = Field(
        None, min_length=1, max_length=64, description="Same key: the same alert."
    )


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=10_000)


def fingerprint(alert: WebhookAlert) -> str:
    if alert.dedup_key:
        return alert.dedup_key
    canonical = json.dumps(alert.labels, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def rows_from_webhook(
    source: str, body: WebhookBody, now: datetime, idempotency_key: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "source": source,
            "received_at": now,
            "status": alert.status,
            "fingerprint": fingerprint(alert),
            "idempotency_key": f"{idempotency_key}:{i}" if idempotency_key else None,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "state": ACCEPTED,
            "incident_id": None,
            "detail": "",
            "worked_at": None,
        }
        for i, alert in enumerate(body.alerts)
    ]
