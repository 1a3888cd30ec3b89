"""Drills' own rows: start, end, look up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Category
from service.drills.models import DrillStart
from service.drills.tables import DrillRow
from service.errors import Conflict, NotFound


def record_drill(
    session: AsyncSession,
    start: DrillStart,
    *,
    category: Category,
    event_type: str,
    title: str,
    actor: str,
    now: datetime,
) -> DrillRow:
    drill = DrillRow(
        plan_id=start.plan,
        level=start.level.value,
        unit_id=start.unit,
        category=category.value,
        event_type=event_type,
        title=title,
        scenario=start.scenario,
        stand_ins=dict(start.stand_ins),
        public_warnings=start.public_warnings,
        started_by=actor,
        started_at=now,
    )
    session.add(drill)
    return drill


async def get_drill(session: AsyncSession, drill_id: int, *, lock: bool = False) -> DrillRow:
    query = select(DrillRow).where(DrillRow.id == drill_id)
    drill = await session.scalar(query.with_for_update() if lock else query)
    if drill is None:
        raise NotFound("drill", drill_id)
    return drill


def end_drill(drill: DrillRow, *, actor: str, now: datetime) -> None:
    if drill.ended_at is not None:
        raise Conflict(f"drill {drill.id} already ended at {drill.ended_at.isoformat()}")
    drill.ended_by, drill.ended_at = actor, now


async def list_drills(session: AsyncSession, *, unit: str | None = None) -> list[DrillRow]:
    query = select(DrillRow).order_by(DrillRow.id.desc())
    if unit is not None:
        query = query.where(DrillRow.unit_id == unit)
    return list(await session.scalars(query))


async def stand_ins_of(session: AsyncSession, drill_ids: set[int]) -> dict[int, dict[str, str]]:
    """Each drill's roster of stand-ins, for the engine to reach its people."""
    if not drill_ids:
        return {}
    rows = await session.execute(
        select(DrillRow.id, DrillRow.stand_ins).where(DrillRow.id.in_(drill_ids))
    )
    return {drill_id: dict(stand_ins or {}) for drill_id, stand_ins in rows.all()}
