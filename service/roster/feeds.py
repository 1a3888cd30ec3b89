"""Secret links to iCal feeds; only a hash of each link's token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.roster.roster import Roster
from service.roster.tables import CalendarFeedRow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_feed(
    session: AsyncSession, roster: Roster, *, kind: str, subject: str, now: datetime
) -> str:
    """A new secret feed token for a person or unit (the subject must exist)."""
    if kind == "person":
        roster.person(subject)
    else:
        roster.unit(subject)
    token = secrets.token_urlsafe(24)
    session.add(
        CalendarFeedRow(token_hash=_digest(token), kind=kind, subject=subject, created_at=now)
    )
    await session.flush()
    return token


async def resolve_feed(session: AsyncSession, token: str) -> CalendarFeedRow | None:
    row = await session.scalar(
        select(CalendarFeedRow).where(CalendarFeedRow.token_hash == _digest(token))
    )
    return None if row is None or row.revoked_at is not None else row
