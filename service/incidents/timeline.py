"""Append entries to an incident's timeline; nothing here edits or deletes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.incidents.tables import TimelineEntryRow

SYSTEM_ACTOR = "dutyd"


def add_entry(
    session: AsyncSession,
    *,
    incident_id: int,
    at: datetime,
    kind: str,
    summary: str,
    actor: str = SYSTEM_ACTOR,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        TimelineEntryRow(
            incident_id=incident_id, at=at, kind=kind, actor=actor, summary=summary, data=data or {}
        )
    )
