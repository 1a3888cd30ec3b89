"""Leaders' instructions and their assignments: give one on an incident, answer an
assignment, accept or send back the answer, list what is open or overdue, closure rates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import Caller, DutydDep, PageSize, ReadSessionDep, RowId
from service.flows import instructions as flow
from service.instructions import service
from service.instructions.service import InstructionRequest
from service.instructions.tables import AssignmentRow

router = APIRouter(prefix="/api/v1", tags=["instructions"])


class AssignmentView(BaseModel):
    id: int
    instruction_id: int
    incident_id: int
    unit: str
    person: str | None
    task: str
    returns: str
    deadline: datetime
    state: str
    late: bool
    overdue: bool
    answer: str
    answered_by: str | None
    answered_at: datetime | None
    decided_by: str | None
    closed_at: datetime | None
    sent_back: int
    comment: str


def view(row: AssignmentRow, now: datetime) -> AssignmentView:
    return AssignmentView(
        id=row.id,
        instruction_id=row.instruction_id,
        incident_id=row.incident_id,
        unit=row.unit_id,
        person=row.person_id,
        task=row.task,
        returns=row.returns,
        deadline=row.deadline,
        state=row.state,
        late=row.late,
        overdue=row.state != "closed" and row.deadline <= now,
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        decided_by=row.decided_by,
        closed_at=row.closed_at,
        sent_back=row.sent_back,
        comment=row.comment,
    )


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=4000)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool
    comment: str = Field("", max_length=2000)


class ClosureView(BaseModel):
    unit: str
    assigned: int
    closed: int
    closed_on_time: int
    overdue_open: int
    rate: float


@router.post(
    "/incidents/{incident_id}/instructions",
    status_code=status.HTTP_201_CREATED,
    response_model=list[AssignmentView],
)
async def give(
    incident_id: RowId, body: InstructionRequest, caller: Caller, dutyd: DutydDep
) -> list[AssignmentView]:
    """A leader's instruction (批示) on the incident, as assignments (交办) to units or
    people with deadlines; everyone named is told at once."""
    now = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        _, rows = await flow.give_instruction(
            session, dutyd.runtime.roster, incident_id, body, actor=caller.name, via="api", now=now
        )
        views = [view(r, now) for r in rows]
    dutyd.wake()
    return views


@router.get("/assignments", response_model=list[AssignmentView])
async def assignments(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    open_only: Annotated[bool, Query(alias="open")] = True,
    limit: PageSize = 100,
) -> list[AssignmentView]:
    """Assignments by deadline: the open ones (and overdue, flagged) unless `open=false`."""
    now = dutyd.clock.now()
    rows = await service.list_assignments(session, unit=unit, open_only=open_only, limit=limit)
    return [view(r, now) for r in rows]


@router.post("/assignments/{assignment_id}/answer", response_model=AssignmentView)
async def answer(
    assignment_id: RowId, body: Answer, caller: Caller, dutyd: DutydDep
) -> AssignmentView:
    """The assigned unit's written answer (办理情况), for the assigning office to accept."""
    now = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        row = await flow.answer_assignment(
            session, dutyd.runtime.roster, assignment_id, body.answer, actor=caller.name, now=now
        )
        result = view(row, now)
    dutyd.wake()
    return result


@router.post("/assignments/{assignment_id}/decide", response_model=AssignmentView)
async def decide(
    assignment_id: RowId, body: Decision, caller: Caller, dutyd: DutydDep
) -> AssignmentView:
    """Accept the answer (办结), or send it back with what is missing."""
    now = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        row = await flow.decide_assignment(
            session,
            dutyd.runtime.roster,
            assignment_id,
            accept=body.accept,
            comment=body.comment,
            actor=caller.name,
            now=now,
        )
        result = view(row, now)
    dutyd.wake()
    return result


@router.get("/assignments/closure", response_model=list[ClosureView])
async def closure(
    caller: Caller,
    dutyd: DutydDep,
    session: ReadSessionDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> list[ClosureView]:
    """Per unit, of assignments due in the period: closed, on time, overdue (办结率)."""
    rates = await service.closure_rates(session, start, end, dutyd.clock.now())
    return [ClosureView(**vars(r), rate=round(r.rate, 4)) for r in rates]
