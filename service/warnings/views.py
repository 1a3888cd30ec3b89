"""What the API, the CLI and the console show of a warning: the message, its steps, its
chain, and what became of its messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.broadcasts import broadcast_counts, last_hand_off
from service.notify.tables import MessageRow, MessageState
from service.warnings import service
from service.warnings.fanout import code_ranges
from service.warnings.models import COLOUR_OF_LEVEL, Stage, WarningContent
from service.warnings.tables import RecipientChannelRow, RecipientCodeRow, WarningRow


class StepView(BaseModel):
    at: datetime
    actor: str
    step: str
    comment: str
    data: dict[str, Any]


class ChannelCounts(BaseModel):
    queued: int = 0
    waiting: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    withdrawn: int = 0


class AreaReach(BaseModel):
    code: str
    recipients: int


class WarningStats(BaseModel):
    targeted: int
    opted_out: int = 0  # addresses in the area's division codes that opted out
    by_channel: dict[str, ChannelCounts]
    by_area: list[AreaReach]
    first_hand_off_seconds: float | None = None
    last_hand_off_seconds: float | None = None  # from sign-off to the last hand-over
    fanout: str | None


class WarningView(BaseModel):
    id: int
    root_id: int
    msg_type: str
    stage: str
    unit: str
    hazard: str
    level: str
    colour: str
    status: str
    content: WarningContent
    drafted_by: str
    signed_by: str | None
    emergency: bool
    reviewed_after_by: str | None
    identifier: str | None
    published_at: datetime | None
    expires_at: datetime
    created_at: datetime
    steps: list[StepView] = []
    chain: list[int] = []
    stats: WarningStats | None = None


def warning_view(row: WarningRow) -> WarningView:
    content = service.content_of(row)
    return WarningView(
        id=row.id,
        root_id=service.root_id_of(row),
        msg_type=row.msg_type,
        stage=row.stage,
        unit=row.unit_id,
        hazard=row.hazard,
        level=row.level,
        colour=COLOUR_OF_LEVEL[content.level].value,
        status=row.status,
        content=content,
        drafted_by=row.drafted_by,
        signed_by=row.signed_by,
        emergency=row.emergency,
        reviewed_after_by=row.reviewed_after_by,
        identifier=row.identifier,
        published_at=row.published_at,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


_STATE_FIELD = {
    MessageState.pending: "waiting",
    MessageState.sending: "waiting",
    MessageState.sent: "sent",
    MessageState.delivered: "delivered",
    MessageState.failed: "failed",
    MessageState.withdrawn: "withdrawn",
    MessageState.bundled: "sent",
}


async def warning_stats(session: AsyncSession, row: WarningRow) -> WarningStats:
    counts = await broadcast_counts(session, [row.id])
    by_channel: dict[str, ChannelCounts] = {}
    for (_, channel, state), n in counts.items():
        entry = by_channel.setdefault(channel, ChannelCounts())
        entry.queued += n
        name = _STATE_FIELD.get(state, "waiting")
        setattr(entry, name, getattr(entry, name) + n)
    content = service.content_of(row)
    by_area = []
    for lo, hi in code_ranges(content.areas):
        reached = await session.scalar(
            select(func.count(func.distinct(MessageRow.recipient_id))).where(
                MessageRow.broadcast_id == row.id,
                MessageRow.recipient_id.in_(
                    select(RecipientCodeRow.recipient_id).where(
                        RecipientCodeRow.code >= lo, RecipientCodeRow.code < hi
                    )
                ),
            )
        )
        by_area.append(AreaReach(code=lo, recipients=int(reached or 0)))
    opted_out = 0
    for lo, hi in code_ranges(content.areas):
        opted_out += int(
            await session.scalar(
                select(func.count(RecipientChannelRow.id)).where(
                    RecipientChannelRow.opted_out_at.is_not(None),
                    RecipientChannelRow.recipient_id.in_(
                        select(RecipientCodeRow.recipient_id).where(
                            RecipientCodeRow.code >= lo, RecipientCodeRow.code < hi
                        )
                    ),
                )
            )
            or 0
        )
    last = await last_hand_off(session, row.id)
    first = await session.scalar(
        select(func.min(MessageRow.sent_at)).where(MessageRow.broadcast_id == row.id)
    )
    start = row.published_at
    return WarningStats(
        targeted=row.targeted,
        opted_out=opted_out,
        by_channel=by_channel,
        by_area=by_area,
        first_hand_off_seconds=(first - start).total_seconds() if first and start else None,
        last_hand_off_seconds=(last - start).total_seconds() if last and start else None,
        fanout=row.fanout_state,
    )


async def warning_detail(session: AsyncSession, warning_id: int) -> WarningView:
    row = await service.get_warning(session, warning_id)
    view = warning_view(row)
    view.steps = [
        StepView(at=s.at, actor=s.actor, step=s.step, comment=s.comment, data=s.data)
        for s in await service.steps_of(session, row.id)
    ]
    view.chain = [r.id for r in await service.chain_of(session, view.root_id)]
    if row.published_at is not None:
        view.stats = await warning_stats(session, row)
    return view


async def list_warnings(
    session: AsyncSession,
    *,
    stage: Stage | None = None,
    unit: str | None = None,
    limit: int = 100,
) -> list[WarningView]:
    query = select(WarningRow).order_by(WarningRow.id.desc()).limit(limit)
    if stage is not None:
        query = query.where(WarningRow.stage == stage.value)
    if unit is not None:
        query = query.where(WarningRow.unit_id == unit)
    return [warning_view(r) for r in await session.scalars(query)]
