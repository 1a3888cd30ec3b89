"""The roster in the database: versions, seeding from YAML, export back to YAML."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.roster.loader import load_roster
from service.roster.roster import Roster, RosterDocument
from service.roster.tables import RosterVersionRow


async def current_version(session: AsyncSession) -> RosterVersionRow | None:
    return await session.scalar(
        select(RosterVersionRow).order_by(RosterVersionRow.id.desc()).limit(1)
    )


async def load_current(session: AsyncSession) -> Roster | None:
    row = await current_version(session)
    if row is None:
        return None
    return Roster.from_document(version_document(row))


async def save_version(
    session: AsyncSession, roster: Roster, *, actor: str, comment: str, now: datetime
) -> RosterVersionRow:
    row = RosterVersionRow(
        created_at=now,
        created_by=actor,
        comment=comment,
        content=roster.document.model_dump_json(),
    )
    session.add(row)
    await session.flush()
    return row


async def load_or_seed(session: AsyncSession, seed_file: Path, now: datetime) -> tuple[Roster, int]:
    """The roster in force and its version; on a new database the YAML seed becomes version 1."""
    row = await current_version(session)
    if row is not None:
        return Roster.from_document(version_document(row)), row.id
    roster = load_roster(seed_file)
    row = await save_version(
        session, roster, actor="dutyd", comment=f"seeded from {seed_file}", now=now
    )
    return roster, row.id


async def list_versions(session: AsyncSession, limit: int = 50) -> list[RosterVersionRow]:
    """The newest `limit` versions, newest first."""
    rows = await session.scalars(
        select(RosterVersionRow).order_by(RosterVersionRow.id.desc()).limit(limit)
    )
    return list(rows)


async def get_version(session: AsyncSession, version_id: int) -> RosterVersionRow:
    row = await session.get(RosterVersionRow, version_id)
    if row is None:
        raise NotFound("roster version", str(version_id))
    return row


def version_document(row: RosterVersionRow) -> RosterDocument:
    return RosterDocument.model_validate_json(row.content)


async def newest_version_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(RosterVersionRow.id))) or 0)


def to_yaml(document: RosterDocument) -> str:
    """The roster as YAML that loads back to the same document."""
    data: dict[str, Any] = json.loads(
        document.model_dump_json(exclude_defaults=True, exclude_none=True)
    )
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
