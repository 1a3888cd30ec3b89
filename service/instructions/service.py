"""The instructions subject's own rows: an instruction and its assignments, answered,
accepted or sent back, checked at their reminder and deadline; closure rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, InvalidInput, NotFound
from service.incidents.tables import IncidentRow
from service.instructions.tables import AssignmentRow, InstructionRow
from service.store.database import is_postgres

# A reminder this long before the deadline, or halfway there when the time is shorter.
REMIND_BEFORE = timedelta(minutes=30)


class AssignmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(min_length=1, max_length=64)
    person: str | None = Field(None, max_length=64, description="Default: the unit's officer.")
    task: str = Field(min_length=1, max_length=2000)
    deadline: AwareDatetime
    returns: Literal["answer", "report"] = "answer"


class InstructionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000, description="The leader's words (批示).")
    leader: str | None = Field(None, max_length=128, description="Default: who gives it.")
    assignments: list[AssignmentSpec] = Field(min_length=1, max_length=20)


def remind_at(now: datetime, deadline: datetime) -> datetime:
    return max(now, deadline - min(REMIND_BEFORE, (deadline - now) / 2))


async def add_instruction(
    session: AsyncSession,
    incident_id: int,
    request: InstructionRequest,
    *,
    leader: str,
    via: str,
    now: datetime,
) -> tuple[InstructionRow, list[AssignmentRow]]:
    for spec in request.assignments:
        if spec.deadline <= now:
            raise InvalidInput("an assignment's deadline must be ahead", field="deadline")
    instruction = InstructionRow(
        incident_id=incident_id, leader=leader, text=request.text, at=now, via=via
    )
    session.add(instruction)
    await session.flush()
    rows = [
        AssignmentRow(
            instruction_id=instruction.id,
            incident_id=incident_id,
            unit_id=spec.unit,
            person_id=spec.person,
            task=spec.task,
            returns=spec.returns,
            deadline=spec.deadline,
            state="open",
            phase="remind",
            next_at=remind_at(now, spec.deadline),
            late=False,
            answer="",
            sent_back=0,
            comment="",
        )
        for spec in request.assignments
    ]
    session.add_all(rows)
    await session.flush()
    return instruction, rows


async def lock_assignment(session: AsyncSession, assignment_id: int) -> AssignmentRow:
    query = select(AssignmentRow).where(AssignmentRow.id == assignment_id)
    if is_postgres(session):
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound("assignment", assignment_id)
    return row


def answer(row: AssignmentRow, text: str, *, actor: str, now: datetime) -> None:
    if row.state != "open":
        raise Conflict(f"assignment {row.id} is {row.state}: only an open one is answered")
    row.state, row.answer, row.answered_by, row.answered_at = "answered", text, actor, now


def decide(row: AssignmentRow, *, accept: bool, comment: str, actor: str, now: datetime) -> None:
    """Accept the answer (办结), or send it back to be done again (with why)."""
    if row.state != "answered":
        raise Conflict(f"assignment {row.id} is {row.state}: only an answered one is decided")
    row.decided_by, row.comment = actor, comment
    if accept:
        row.state, row.closed_at, row.phase = "closed", now, "done"
        return
    if not comment.strip():
        raise InvalidInput("say what is missing when sending an answer back", field="comment")
    row.state, row.sent_back = "open", row.sent_back + 1
    if row.phase == "done":  # its deadline passed already: it is late, and watched again
        row.phase, row.next_at = "late", now


async def due(session: AsyncSession, now: datetime, limit: int) -> list[AssignmentRow]:
    query = (
        select(AssignmentRow)
        .where(AssignmentRow.phase != "done", AssignmentRow.next_at <= now)
        .order_by(AssignmentRow.next_at, AssignmentRow.id)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def list_assignments(
    session: AsyncSession, *, unit: str | None, open_only: bool, limit: int
) -> list[AssignmentRow]:
    query = select(AssignmentRow).order_by(AssignmentRow.deadline).limit(limit)
    if unit is not None:
        query = query.where(AssignmentRow.unit_id == unit)
    if open_only:
        query = query.where(AssignmentRow.state != "closed")
    return list(await session.scalars(query))


async def instruction_of(session: AsyncSession, instruction_id: int) -> InstructionRow:
    row = await session.get(InstructionRow, instruction_id)
    if row is None:
        raise NotFound("instruction", instruction_id)
    return row


@dataclass(frozen=True)
class ClosureRate:
    unit: str
    assigned: int
    closed: int
    closed_on_time: int
    overdue_open: int

    @property
    def rate(self) -> float:
        return self.closed / self.assigned if self.assigned else 0.0


async def closure_rates(
    session: AsyncSession, start: datetime, end: datetime, now: datetime, unit: str | None = None
) -> list[ClosureRate]:
    """Per unit (or only `unit`), assignments due in [start, end) but not a drill's: how many
    closed, on time, still overdue (办结率). Counted in the database, one row per unit."""
    closed = AssignmentRow.state == "closed"
    query = (
        select(
            AssignmentRow.unit_id,
            func.count(),
            func.sum(case((closed, 1), else_=0)),
            func.sum(case((and_(closed, AssignmentRow.late == false()), 1), else_=0)),
            func.sum(case((and_(~closed, AssignmentRow.deadline <= now), 1), else_=0)),
        )
        .where(
            AssignmentRow.deadline >= start,
            AssignmentRow.deadline < end,
            # Not a drill's: the few drill incidents (ix_incidents_drill_id), not a join.
            AssignmentRow.incident_id.not_in(
                select(IncidentRow.id).where(IncidentRow.drill_id.is_not(None))
            ),
        )
        .group_by(AssignmentRow.unit_id)
    )
    if unit is not None:
        query = query.where(AssignmentRow.unit_id == unit)
    rows = sorted((await session.execute(query)).all())  # by unit, as Python orders text
    return [ClosureRate(u, n, int(c), int(t), int(o)) for u, n, c, t, o in rows]
