"""A public warning's workflow: draft, submit, review, sign (or the green channel),
publish, update, lift, withdraw. Each step is one transaction: the warning's rows, its
step, its CAP and the start of its fan-out together.

Which action a person may take at all (draft, review, sign, lift) on which unit is the
access policy's, checked at the edge; the rules of the workflow itself (the drafter never
signs, how many reviews a level needs, the green channel's levels) are checked here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.policy import Principal
from service.catalog import Level
from service.errors import Conflict, InvalidInput, UnknownValue
from service.flows.warning_drills import drill_terms
from service.flows.warning_publish import OPEN_STAGES, WarningDesk, publish
from service.warnings import service
from service.warnings.cap_build import event_name
from service.warnings.gate import SharedExclusive
from service.warnings.models import MsgType, Stage, WarningContent
from service.warnings.tables import WarningRow
from service.warnings.workflow import (
    Review,
    after_review,
    after_submit,
    check_cancel,
    check_editable,
    check_emergency,
    check_review,
    check_sign,
    review_is_above,
)

T = TypeVar("T")


async def run_step(
    sessions: async_sessionmaker[AsyncSession],
    gate: SharedExclusive,
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """One step in one transaction, with this process's outbox held off meanwhile: a
    publication that retires earlier messages (an update, a lift) commits before any
    batch of theirs is handed over again (`warnings.gate`)."""
    async with gate.exclusive(), sessions.begin() as session:
        return await work(session)


def _stage(row: WarningRow) -> Stage:
    return Stage(row.stage)


def _check_unit(desk: WarningDesk, unit_id: str) -> None:
    if unit_id not in desk.roster.units:
        raise UnknownValue("unit", unit_id, sorted(desk.roster.units))
    if unit_id not in desk.rules.units:
        raise InvalidInput(
            f"unit {unit_id} has no issuing body in the warnings file (units: {unit_id}: "
            "zh, en, area_code)",
            field="unit",
        )


async def draft_warning(
    session: AsyncSession,
    desk: WarningDesk,
    content: WarningContent,
    *,
    unit_id: str,
    actor: Principal,
    incident_ids: list[int] | None = None,
) -> WarningRow:
    _check_unit(desk, unit_id)
    content = await drill_terms(session, desk.rules, content, incident_ids or [])
    row = service.new_message(session, content, unit_id=unit_id, actor=actor.name, now=desk.now)
    await session.flush()
    service.add_step(session, row, "drafted", actor=actor.name, now=desk.now)
    await service.link_incidents(session, row, incident_ids or [])
    return row


async def edit_warning(
    session: AsyncSession,
    desk: WarningDesk,
    warning_id: int,
    content: WarningContent,
    actor: Principal,
) -> WarningRow:
    row = await service.get_warning(session, warning_id, lock=True)
    check_editable(_stage(row))
    if row.msg_type == MsgType.Cancel.value:
        raise Conflict("a lift is published as it is made; it cannot be edited")
    linked = await service.incidents_of(session, [row.id, service.root_id_of(row)])
    content = await drill_terms(session, desk.rules, content, linked)
    service.set_content(row, content, desk.now)
    service.add_step(session, row, "edited", actor=actor.name, now=desk.now)
    return row


async def submit_warning(
    session: AsyncSession, desk: WarningDesk, warning_id: int, actor: Principal
) -> WarningRow:
    row = await service.get_warning(session, warning_id, lock=True)
    check_editable(_stage(row))
    service.move(row, after_submit(desk.rules, Level(row.level)), desk.now)
    row.submitted_at = desk.now
    service.add_step(session, row, "submitted", actor=actor.name, now=desk.now)
    return row


async def review_warning(
    session: AsyncSession,
    desk: WarningDesk,
    warning_id: int,
    actor: Principal,
    *,
    approve: bool,
    comment: str,
) -> WarningRow:
    """Approve, or request changes (the warning goes back to its drafter as a draft)."""
    row = await service.get_warning(session, warning_id, lock=True)
    steps = await service.steps_of(session, row.id)
    reviews = service.reviews_since_submitted(steps)
    parent_of = desk.roster.parent_of
    check_review(
        stage=_stage(row),
        drafted_by=row.drafted_by,
        reviews=reviews,
        actor=actor,
        unit=row.unit_id,
        parent_of=parent_of,
    )
    if not approve:
        if not comment.strip():
            raise InvalidInput("say what must change", field="comment")
        service.move(row, Stage.draft, desk.now)
        service.add_step(
            session, row, "changes_requested", actor=actor.name, now=desk.now, comment=comment
        )
        return row
    above = review_is_above(actor, row.unit_id, parent_of)
    service.add_step(
        session,
        row,
        "approved",
        actor=actor.name,
        now=desk.now,
        comment=comment,
        data={"above": above},
    )
    reviews = [*reviews, Review(actor.name, above)]
    service.move(row, after_review(desk.rules, Level(row.level), reviews), desk.now)
    return row


async def sign_warning(
    session: AsyncSession,
    desk: WarningDesk,
    warning_id: int,
    actor: Principal,
    *,
    comment: str = "",
) -> WarningRow:
    """Sign-off (签发): the warning is published at once."""
    row = await service.get_warning(session, warning_id, lock=True)
    check_sign(
        desk.rules,
        stage=_stage(row),
        level=Level(row.level),
        drafted_by=row.drafted_by,
        actor=actor,
        unit=row.unit_id,
        parent_of=desk.roster.parent_of,
    )
    service.add_step(session, row, "signed", actor=actor.name, now=desk.now, comment=comment)
    await publish(session, desk, row, signer=actor.name)
    return row


async def publish_at_once(
    session: AsyncSession, desk: WarningDesk, warning_id: int, actor: Principal, *, reason: str
) -> WarningRow:
    """The green channel (绿色通道): one authorised signer publishes an orange or red
    warning at once; its reviews come after, and it is flagged until they do."""
    if not reason.strip():
        raise InvalidInput("say why the green channel is needed", field="reason")
    row = await service.get_warning(session, warning_id, lock=True)
    check_emergency(
        desk.rules,
        stage=_stage(row),
        level=Level(row.level),
        drafted_by=row.drafted_by,
        actor=actor,
        unit=row.unit_id,
        parent_of=desk.roster.parent_of,
    )
    row.emergency = True
    service.add_step(
        session, row, "signed_emergency", actor=actor.name, now=desk.now, comment=reason
    )
    await publish(session, desk, row, signer=actor.name)
    return row


async def review_after(
    session: AsyncSession, desk: WarningDesk, warning_id: int, actor: Principal, *, comment: str
) -> WarningRow:
    """The review after the fact of a warning sent through the green channel."""
    row = await service.get_warning(session, warning_id, lock=True)
    if not row.emergency:
        raise Conflict("only a warning sent through the green channel is reviewed after")
    if row.reviewed_after_by is not None:
        raise Conflict(f"already reviewed after by {row.reviewed_after_by}")
    if actor.name in (row.signed_by, row.drafted_by):
        raise Conflict("the review after the fact is by someone who neither drafted nor signed")
    check_review(
        stage=Stage.in_review,
        drafted_by=row.drafted_by,
        reviews=[],
        actor=actor,
        unit=row.unit_id,
        parent_of=desk.roster.parent_of,
    )
    row.reviewed_after_by = actor.name
    service.add_step(
        session, row, "reviewed_after", actor=actor.name, now=desk.now, comment=comment
    )
    return row


async def draft_update(
    session: AsyncSession,
    desk: WarningDesk,
    warning_id: int,
    content: WarningContent,
    actor: Principal,
) -> WarningRow:
    """An Update of a published warning (level, area or text): a new message of the same
    chain, drafted, then reviewed and signed as its level asks."""
    current = await _live_message(session, warning_id)
    root = await service.get_warning(session, service.root_id_of(current))
    linked = await service.incidents_of(session, [current.id, root.id])
    content = await drill_terms(session, desk.rules, content, linked)
    row = service.new_message(
        session,
        content,
        unit_id=current.unit_id,
        actor=actor.name,
        now=desk.now,
        msg_type=MsgType.Update,
        root=root,
        supersedes=current,
    )
    await session.flush()
    service.add_step(
        session, row, "drafted", actor=actor.name, now=desk.now, data={"updates": current.id}
    )
    return row


async def lift_warning(
    session: AsyncSession, desk: WarningDesk, warning_id: int, actor: Principal, *, reason: str
) -> WarningRow:
    """Lift (解除) in one action: a Cancel published at once to everyone the warning
    reached; what of it still waits is stopped (the outbox's gate) and withdrawn."""
    if not reason.strip():
        raise InvalidInput("say why the warning is lifted", field="reason")
    current = await _live_message(session, warning_id)
    check_cancel(desk.rules, actor=actor, unit=current.unit_id, parent_of=desk.roster.parent_of)
    root_id = service.root_id_of(current)
    root = await service.get_warning(session, root_id)
    content = lifted_content(service.content_of(current), reason)
    row = service.new_message(
        session,
        content,
        unit_id=current.unit_id,
        actor=actor.name,
        now=desk.now,
        msg_type=MsgType.Cancel,
        root=root,
        supersedes=current,
    )
    await session.flush()
    service.add_step(session, row, "lifted", actor=actor.name, now=desk.now, comment=reason)
    await publish(session, desk, row, signer=actor.name)
    return row


def lifted_content(content: WarningContent, reason: str) -> WarningContent:
    """What a lift says: that the warning is lifted, and why; nothing of what to do."""
    texts = []
    where = "、".join(a.description for a in content.areas if a.description)
    for text in content.texts:
        zh = text.language.startswith("zh")
        event = event_name(content, text.language)
        texts.append(
            text.model_copy(
                update={
                    "headline": f"{where}{event}已解除" if zh else f"{event} lifted",
                    "description": reason,
                    "instruction": "",
                }
            )
        )
    return content.model_copy(update={"texts": texts})


async def withdraw_draft(
    session: AsyncSession, desk: WarningDesk, warning_id: int, actor: Principal, *, reason: str
) -> WarningRow:
    """A warning never published is dropped: nothing went out, nothing goes."""
    row = await service.get_warning(session, warning_id, lock=True)
    if _stage(row) not in OPEN_STAGES:
        raise Conflict(f"the warning is {row.stage}; a published one is lifted, not withdrawn")
    service.move(row, Stage.cancelled, desk.now)
    service.add_step(session, row, "withdrawn", actor=actor.name, now=desk.now, comment=reason)
    return row


async def _live_message(session: AsyncSession, warning_id: int) -> WarningRow:
    """The published message of the chain `warning_id` belongs to (an Alert or its
    latest Update)."""
    asked = await service.get_warning(session, warning_id)
    chain = await service.chain_of(session, service.root_id_of(asked), lock=True)
    live = [r for r in chain if r.stage == Stage.published.value]
    if not live or live[-1].msg_type == MsgType.Cancel.value:
        raise Conflict(f"warning {warning_id} is not in force (lifted, expired or unpublished)")
    return live[-1]
