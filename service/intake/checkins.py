"""Heartbeat sources (常提醒、早发现): a source that should check in every N minutes. Its
check-ins are this subject's rows; its silence and return are the flows' to act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.intake.rules import IntakeRules
from service.intake.tables import CheckInRow
from service.store.database import is_postgres


@dataclass(frozen=True)
class SourceState:
    name: str
    kind: str
    every_minutes: int | None
    last_check_in: datetime | None
    silent: bool


async def check_in(session: AsyncSession, source: str, now: datetime) -> CheckInRow:
    query = select(CheckInRow).where(CheckInRow.source == source)
    if is_postgres(session):
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        row = CheckInRow(source=source, last_at=now, silent_incident_id=None)
        session.add(row)
    else:
        row.last_at = max(row.last_at, now)
    return row


async def silent_sources(
    session: AsyncSession, rules: IntakeRules, now: datetime
) -> list[CheckInRow]:
    """Heartbeat sources past their interval with no incident open for it yet (locked)."""
    due = []
    query = select(CheckInRow).where(CheckInRow.silent_incident_id.is_(None))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    for row in await session.scalars(query):
        source = rules.sources.get(row.source)
        if source is None or source.kind != "heartbeat" or source.every_minutes is None:
            continue
        if now - row.last_at > timedelta(minutes=source.every_minutes):
            due.append(row)
    return due


async def source_states(
    session: AsyncSession, rules: IntakeRules, now: datetime
) -> list[SourceState]:
    rows = {r.source: r for r in await session.scalars(select(CheckInRow))}
    states = []
    for name, source in sorted(rules.sources.items()):
        row = rows.get(name)
        silent = bool(
            source.kind == "heartbeat"
            and source.every_minutes
            and row is not None
            and now - row.last_at > timedelta(minutes=source.every_minutes)
        )
        states.append(
            SourceState(
                name, source.kind, source.every_minutes, row.last_at if row else None, silent
            )
        )
    return states
