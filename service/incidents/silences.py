"""Silences: automated reports that match are recorded but page nobody."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Category
from service.errors import InvalidInput, NotFound
from service.incidents.tables import SilenceRow

SILENCEABLE_SOURCES = ("webhook", "automated")


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    event_type: str | None = None
    unit: str | None = None
    dedup_key_prefix: str | None = Field(None, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    starts_at: AwareDatetime | None = Field(None, description="Default: now.")
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _something_to_match(self) -> SilenceRequest:
        if not any((self.category, self.event_type, self.unit, self.dedup_key_prefix)):
            raise ValueError(
                "a silence must match on at least one of category, event_type, "
                "unit or dedup_key_prefix"
            )
        return self

    def matchers(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            include={"category", "event_type", "unit", "dedup_key_prefix"},
            exclude_none=True,
        )


def matches(
    matchers: dict[str, Any], *, category: str, event_type: str, unit: str, dedup_key: str | None
) -> bool:
    for key, value in matchers.items():
        if key == "dedup_key_prefix":
            if not dedup_key or not dedup_key.startswith(value):
                return False
        elif {"category": category, "event_type": event_type, "unit": unit}[key] != value:
            return False
    return True


async def active_silence(
    session: AsyncSession,
    *,
    source: str,
    category: str,
    event_type: str,
    unit: str,
    dedup_key: str | None,
    now: datetime,
) -> SilenceRow | None:
    if source not in SILENCEABLE_SOURCES:
        return None
    for row in await _in_force(session, now):
        if matches(
            row.matchers, category=category, event_type=event_type, unit=unit, dedup_key=dedup_key
        ):
            return row
    return None


# The silences in force at a time, kept for the transaction that read them: a storm's
# batch opens its incidents at one `now`, and asked once, not once an incident.
_IN_FORCE = "silences_in_force"


async def _in_force(session: AsyncSession, now: datetime) -> list[SilenceRow]:
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_IN_FORCE)
    if kept is not None and kept[0] is transaction and kept[1] == now:
        return kept[2]
    rows = list(
        await session.scalars(
            select(SilenceRow)
            .where(
                SilenceRow.starts_at <= now,
                SilenceRow.ends_at > now,
                SilenceRow.expired_at.is_(None),
            )
            .order_by(SilenceRow.id)
        )
    )
    session.info[_IN_FORCE] = (transaction, now, rows)
    return rows


async def create_silence(
    session: AsyncSession, request: SilenceRequest, *, actor: str, now: datetime
) -> SilenceRow:
    starts = request.starts_at or now
    if request.ends_at <= starts:
        raise InvalidInput("ends_at must be after starts_at", field="ends_at")
    row = SilenceRow(
        matchers=request.matchers(),
        reason=request.reason,
        created_by=actor,
        created_at=now,
        starts_at=starts,
        ends_at=request.ends_at,
    )
    session.add(row)
    await session.flush()
    session.info.pop(_IN_FORCE, None)
    return row


async def expire_silence(session: AsyncSession, silence_id: int, *, now: datetime) -> SilenceRow:
    row = await session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFound("silence", silence_id)
    row.expired_at = row.expired_at or now
    session.info.pop(_IN_FORCE, None)
    return row


async def list_silences(
    session: AsyncSession, *, now: datetime, active_only: bool
) -> list[SilenceRow]:
    query = select(SilenceRow).order_by(SilenceRow.id)
    if active_only:
        query = query.where(SilenceRow.ends_at > now, SilenceRow.expired_at.is_(None))
    return list(await session.scalars(query))
