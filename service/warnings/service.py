"""The warnings subject's own rows: a message created, moved a stage, given its CAP; its
steps; its chain (the Alert, its Updates, its Cancel); links to incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.store.database import is_postgres
from service.warnings.models import MsgType, Stage, WarningContent
from service.warnings.tables import WarningIncidentRow, WarningRow, WarningStepRow
from service.warnings.workflow import Review


def new_message(
    session: AsyncSession,
    content: WarningContent,
    *,
    unit_id: str,
    actor: str,
    now: datetime,
    msg_type: MsgType = MsgType.Alert,
    root: WarningRow | None = None,
    supersedes: WarningRow | None = None,
) -> WarningRow:
    row = WarningRow(
        root_id=root.id if root is not None else None,
        supersedes_id=supersedes.id if supersedes is not None else None,
        msg_type=msg_type.value,
        stage=Stage.draft.value,
        unit_id=unit_id,
        hazard=content.hazard,
        level=content.level.value,
        status=content.status.value,
        content=content.model_dump(mode="json"),
        expires_at=content.expires,
        drafted_by=actor,
        created_at=now,
        updated_at=now,
        emergency=False,
        fanout_cursor=0,
        targeted=0,
    )
    session.add(row)
    return row


def set_content(row: WarningRow, content: WarningContent, now: datetime) -> None:
    row.hazard = content.hazard
    row.level = content.level.value
    row.status = content.status.value
    row.content = content.model_dump(mode="json")
    row.expires_at = content.expires
    row.updated_at = now


def content_of(row: WarningRow) -> WarningContent:
    return WarningContent.model_validate(row.content)


def add_step(
    session: AsyncSession,
    row: WarningRow,
    step: str,
    *,
    actor: str,
    now: datetime,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        WarningStepRow(
            warning_id=row.id, at=now, actor=actor, step=step, comment=comment, data=data or {}
        )
    )


def move(row: WarningRow, stage: Stage, now: datetime) -> None:
    row.stage = stage.value
    row.updated_at = now


async def get_warning(session: AsyncSession, warning_id: int, *, lock: bool = False) -> WarningRow:
    query = select(WarningRow).where(WarningRow.id == warning_id)
    if lock and is_postgres(session):
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound("warning", warning_id)
    return row


async def steps_of(session: AsyncSession, warning_id: int) -> list[WarningStepRow]:
    return list(
        await session.scalars(
            select(WarningStepRow)
            .where(WarningStepRow.warning_id == warning_id)
            .order_by(WarningStepRow.at, WarningStepRow.id)
        )
    )


def reviews_since_submitted(steps: list[WarningStepRow]) -> list[Review]:
    """The approvals of the version now in review: a sending back or a new submission
    starts the count again."""
    reviews: list[Review] = []
    for step in steps:
        if step.step in ("submitted", "changes_requested", "edited"):
            reviews = []
        elif step.step == "approved":
            reviews.append(Review(step.actor, bool(step.data.get("above"))))
    return reviews


async def chain_of(session: AsyncSession, root_id: int, *, lock: bool = False) -> list[WarningRow]:
    """The Alert and every Update and Cancel of it, oldest first."""
    query = (
        select(WarningRow)
        .where(or_(WarningRow.id == root_id, WarningRow.root_id == root_id))
        .order_by(WarningRow.id)
    )
    if lock and is_postgres(session):
        query = query.with_for_update()
    return list(await session.scalars(query))


def root_id_of(row: WarningRow) -> int:
    return row.root_id if row.root_id is not None else row.id


async def link_incidents(session: AsyncSession, row: WarningRow, incident_ids: list[int]) -> None:
    known = set(
        await session.scalars(
            select(WarningIncidentRow.incident_id).where(WarningIncidentRow.warning_id == row.id)
        )
    )
    for incident_id in incident_ids:
        if incident_id not in known:
            session.add(WarningIncidentRow(warning_id=row.id, incident_id=incident_id))
            known.add(incident_id)


async def incidents_of(session: AsyncSession, warning_ids: list[int]) -> list[int]:
    return sorted(
        set(
            await session.scalars(
                select(WarningIncidentRow.incident_id).where(
                    WarningIncidentRow.warning_id.in_(warning_ids)
                )
            )
        )
    )


async def sequence_for(session: AsyncSession, unit_id: str, day_start: datetime) -> int:
    """The next sequence number of the unit's published messages since `day_start`."""
    published = await session.scalars(
        select(WarningRow.id).where(
            WarningRow.unit_id == unit_id,
            WarningRow.published_at >= day_start,
        )
    )
    return len(list(published)) + 1


async def live_warnings(session: AsyncSession, now: datetime) -> list[WarningRow]:
    """Published, not yet expired, not replaced and not lifted: the active feed."""
    return list(
        await session.scalars(
            select(WarningRow)
            .where(
                WarningRow.stage == Stage.published.value,
                WarningRow.msg_type != MsgType.Cancel.value,
                WarningRow.expires_at > now,
            )
            .order_by(WarningRow.published_at.desc())
        )
    )
