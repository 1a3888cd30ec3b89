"""An incident's escalation chain as rows: the only code that creates, moves or cancels
escalation steps. The flows call these; firing a step is `escalation.fire`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.plans.models import Escalation

CHAIN_KINDS = (StepKind.step, StepKind.unanswered_alert)


async def start_chain(
    session: AsyncSession, *, incident_id: int, generation: int, now: datetime, worker: str
) -> EscalationStepRow:
    """The chain's first step, due and fired now: the caller queues its messages in the same
    transaction (written fired at once, it costs no UPDATE to mark it so)."""
    first = EscalationStepRow(
        incident_id=incident_id,
        generation=generation,
        step_index=0,
        round=0,
        due_at=now,
        state=StepState.fired,
        fired_at=now,
        fired_by=worker,
    )
    session.add(first)
    await session.flush()
    return first


async def cancel_pending(
    session: AsyncSession, *, incident_id: int, kinds: Sequence[str] = ()
) -> int:
    """Cancel the incident's pending steps (of these kinds, if given); how many."""
    query = (
        update(EscalationStepRow)
        .where(
            EscalationStepRow.incident_id == incident_id,
            EscalationStepRow.state == StepState.pending,
        )
        .values(state=StepState.cancelled)
    )
    if kinds:
        query = query.where(EscalationStepRow.kind.in_(kinds))
    return (await session.execute(query)).rowcount


async def cancel_for_replan(session: AsyncSession, *, incident_id: int) -> list[EscalationStepRow]:
    """Cancel every pending step before a re-plan; returns them, earliest first, so the
    new plan can carry the chain over."""
    pending = (
        await session.scalars(
            select(EscalationStepRow)
            .where(
                EscalationStepRow.incident_id == incident_id,
                EscalationStepRow.state == StepState.pending,
            )
            .order_by(EscalationStepRow.due_at)
        )
    ).all()
    for step in pending:
        step.state = StepState.cancelled
    return list(pending)


def carry_over(
    session: AsyncSession,
    *,
    incident_id: int,
    generation: int,
    cancelled: Sequence[EscalationStepRow],
    escalation: Escalation,
) -> EscalationStepRow | None:
    """Under an edited plan, the chain goes on at the same step and time (clamped to the
    new plan's length), in the incident's new generation."""
    chain = [s for s in cancelled if s.kind in CHAIN_KINDS]
    if not chain:
        return None
    was = chain[0]
    last = len(escalation.flat_steps()) - 1
    row = EscalationStepRow(
        incident_id=incident_id,
        generation=generation,
        step_index=min(was.step_index, last),
        round=min(was.round, escalation.repeat),
        due_at=was.due_at,
        state=StepState.pending,
    )
    session.add(row)
    return row


def schedule_ack_timeout(
    session: AsyncSession, *, incident_id: int, generation: int, due_at: datetime
) -> None:
    """Page again if the incident is still unresolved at `due_at` after an acknowledgement."""
    session.add(
        EscalationStepRow(
            incident_id=incident_id,
            generation=generation,
            kind=StepKind.ack_timeout,
            step_index=-1,
            round=0,
            due_at=due_at,
            state=StepState.pending,
        )
    )


async def bring_forward(
    session: AsyncSession, *, incident_id: int, now: datetime
) -> EscalationStepRow | None:
    """Make the next pending chain step due now; None if there is none."""
    step = await session.scalar(
        select(EscalationStepRow)
        .where(
            EscalationStepRow.incident_id == incident_id,
            EscalationStepRow.state == StepState.pending,
            EscalationStepRow.kind != StepKind.ack_timeout,
        )
        .order_by(EscalationStepRow.due_at)
        .limit(1)
        .with_for_update()
    )
    if step is not None:
        step.due_at = now
    return step


def mark_fired(step: EscalationStepRow, *, now: datetime, worker: str) -> None:
    step.state, step.fired_at, step.fired_by = StepState.fired, now, worker


def mark_cancelled(step: EscalationStepRow) -> None:
    step.state = StepState.cancelled


def still_wanted(step: EscalationStepRow, *, open_: bool, acknowledged: bool) -> bool:
    """Chain steps stop at an acknowledgement; nothing fires once resolved or closed."""
    if not open_:
        return False
    if step.kind == StepKind.ack_timeout:
        return acknowledged
    return not acknowledged
