"""Silences for automated sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import Caller, DutydDep, ReadSessionDep, RowId, SessionDep
from service.incidents import silences

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])


class SilenceView(BaseModel):
    id: int
    matchers: dict[str, Any]
    reason: str
    created_by: str
    starts_at: datetime
    ends_at: datetime
    expired_at: datetime | None


def view(row: Any) -> SilenceView:
    return SilenceView(
        id=row.id,
        matchers=row.matchers,
        reason=row.reason,
        created_by=row.created_by,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        expired_at=row.expired_at,
    )


@router.post("", status_code=201, response_model=SilenceView)
async def create(
    body: silences.SilenceRequest, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> SilenceView:
    """Automated reports matching it are recorded but page nobody, until `ends_at`."""
    return view(
        await silences.create_silence(session, body, actor=caller.name, now=dutyd.clock.now())
    )


@router.get("", response_model=list[SilenceView])
async def list_all(
    caller: Caller, dutyd: DutydDep, session: ReadSessionDep, active_only: bool = True
) -> list[SilenceView]:
    rows = await silences.list_silences(session, now=dutyd.clock.now(), active_only=active_only)
    return [view(r) for r in rows]


@router.delete("/{silence_id}", response_model=SilenceView)
async def expire(
    silence_id: RowId, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> SilenceView:
    """End a silence now (it stays on record)."""
    return view(await silences.expire_silence(session, silence_id, now=dutyd.clock.now()))
