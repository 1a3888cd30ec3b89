"""Secret links to iCal feeds; only a hash of each link's token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.roster.roster import Roster
from service.roster.tables import CalendarFeedRow


def _check_subject(roster: Roster, kind: str, subject: str) -> None:
    """Raises, naming it, if the person or unit is not in the roster."""
    if kind == "person":
        roster.person(subject)
    else:
        roster.unit(subject)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_feed(
    session: AsyncSession, roster: Roster, *, kind: str, subject: str, now: datetime
) -> str:
    """A new secret feed token for a person or unit (the subject must exist)."""
    _check_subject(roster, kind, subject)
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


async def revoke_feeds(
    session: AsyncSession, roster: Roster, *, kind: str, subject: str, now: datetime
) -> int:
    """Revoke every live link to a person's or unit's feed (a lost phone, someone who
    left); returns how many. A new link can be made afterwards."""
    _check_subject(roster, kind, subject)
    result = await session.execute(
        update(CalendarFeedRow)
        .where(
            CalendarFeedRow.kind == kind,
            CalendarFeedRow.subject == subject,
            CalendarFeedRow.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
