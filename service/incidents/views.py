"""Incidents read back: one as the API shows it, the open ones of a unit, a search."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.incidents.models import (
    OPEN_STATUSES,
    IncidentStatus,
    IncidentView,
    Intake,
    ReceivedVia,
)
from service.incidents.tables import IncidentRow


def stored_intake(row: IncidentRow) -> Intake:
    return Intake(
        reporter_name=row.reporter_name or "",
        reporter_unit=row.reporter_unit or "",
        reporter_phone=row.reporter_phone or "",
        received_via=ReceivedVia(row.received_via) if row.received_via else None,
        actions_taken=row.actions_taken or "",
        others_told=row.others_told or "",
    )


def incident_view(row: IncidentRow) -> IncidentView:
    return IncidentView(
        id=row.id,
        category=row.category,
        event_type=row.event_type,
        level=Level(row.level),
        unit=row.unit_id,
        title=row.title,
        description=row.description,
        location=row.location,
        latitude=row.latitude,
        longitude=row.longitude,
        casualties=row.casualties or {},
        losses=row.losses or "",
        intake=stored_intake(row),
        proposed_level=Level(row.proposed_level) if row.proposed_level else None,
        proposed_reason=row.proposed_reason,
        attachments=row.attachments or [],
        source=row.source,
        reporter=row.reporter,
        dedup_key=row.dedup_key,
        silenced=row.silence_id is not None,
        status=IncidentStatus(row.status),
        occurred_at=row.occurred_at,
        learned_at=row.learned_at,
        created_at=row.created_at,
        plan_id=row.plan_id,
        plan_version=row.plan_version,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        drill_id=row.drill_id,
    )


async def open_in_unit(session: AsyncSession, unit_id: str) -> list[IncidentRow]:
    rows = await session.scalars(
        select(IncidentRow)
        .where(IncidentRow.unit_id == unit_id)
        .where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(IncidentRow.id)
    )
    return list(rows)


# What a search looks in: what happened, and the intake record.
SEARCHED = (
    IncidentRow.title,
    IncidentRow.description,
    IncidentRow.location,
    IncidentRow.reporter,
    IncidentRow.reporter_name,
    IncidentRow.reporter_unit,
    IncidentRow.reporter_phone,
    IncidentRow.actions_taken,
    IncidentRow.others_told,
)


async def list_incidents(
    session: AsyncSession,
    *,
    status: IncidentStatus | None = None,
    unit: str | None = None,
    search: str | None = None,
    limit: int = 100,
) -> list[IncidentView]:
    """The latest incidents first; `search` matches any word given in what happened or in
    the intake record (reporter's name, unit, phone, what was done, who was told)."""
    query = select(IncidentRow).order_by(IncidentRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(IncidentRow.status == status.value)
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    for word in (search or "").split():
        query = query.where(or_(*(c.icontains(word, autoescape=True) for c in SEARCHED)))
    return [incident_view(row) for row in await session.scalars(query)]
