"""Leaders' instructions carried out and supervised (督查督办): an instruction on an
incident becomes assignments, everyone named is told at once, reminded before the
deadline, and the assigning leader and the unit's leader on shift are told when it is
late. An assignment is closed only by an answer the assigning office accepts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import UnknownValue
from service.incidents import service as incidents
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.instructions import service
from service.instructions.service import InstructionRequest
from service.instructions.tables import AssignmentRow, InstructionRow
from service.notify.queue import tell_people
from service.roster.models import Person
from service.roster.roster import Roster


def _local(roster: Roster, unit_id: str, at: datetime) -> str:
    return at.astimezone(roster.unit(unit_id).zone).strftime("%m-%d %H:%M")


def assignees(roster: Roster, row: AssignmentRow, now: datetime) -> list[Person]:
    """Who must do it: the person named, else the unit's duty officer on shift."""
    if row.person_id is not None:
        return [roster.person(row.person_id)]
    return [h.person for h in roster.holders("duty_officer", row.unit_id, now)]


def _supervisors(
    roster: Roster, instruction: InstructionRow, row: AssignmentRow, now: datetime
) -> list[Person]:
    people = [h.person for h in roster.holders("leader_on_shift", row.unit_id, now)]
    if instruction.leader in roster.people:
        people.append(roster.people[instruction.leader])
    return list({p.id: p for p in people}.values())


def _values(
    roster: Roster, incident: IncidentRow, instruction: InstructionRow, row: AssignmentRow
) -> dict[str, object]:
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "leader": roster.people[instruction.leader].name
        if instruction.leader in roster.people
        else instruction.leader,
        "text": instruction.text,
        "unit_name": roster.unit(row.unit_id).name,
        "deadline": _local(roster, row.unit_id, row.deadline),
        "task": row.task,
        "assignment_id": row.id,
        "answer": row.answer,
        "comment": row.comment,
    }


async def give_instruction(
    session: AsyncSession,
    roster: Roster,
    incident_id: int,
    request: InstructionRequest,
    *,
    actor: str,
    via: str,
    now: datetime,
) -> tuple[InstructionRow, list[AssignmentRow]]:
    incident = await incidents.lock_incident(session, incident_id)
    for spec in request.assignments:
        roster.unit(spec.unit)
        if spec.person is not None and spec.person not in roster.people:
            raise UnknownValue("person", spec.person)
    leader = request.leader or actor
    instruction, rows = await service.add_instruction(
        session, incident_id, request, leader=leader, via=via, now=now
    )
    for row in rows:
        tell_people(
            session,
            assignees(roster, row, now),
            "assignment",
            _values(roster, incident, instruction, row),
            now,
            incident_id=incident.id,
        )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="instruction",
        actor=actor,
        summary=f"instruction from {leader}: {request.text} ({len(rows)} assignment(s))",
        data={
            "leader": leader,
            "text": request.text,
            "count": len(rows),
            "ids": [r.id for r in rows],
        },
    )
    return instruction, rows


async def answer_assignment(
    session: AsyncSession,
    roster: Roster,
    assignment_id: int,
    text: str,
    *,
    actor: str,
    now: datetime,
) -> AssignmentRow:
    row = await service.lock_assignment(session, assignment_id)
    service.answer(row, text, actor=actor, now=now)
    instruction = await service.instruction_of(session, row.instruction_id)
    incident = await incidents.lock_incident(session, row.incident_id)
    told = [roster.people[instruction.leader]] if instruction.leader in roster.people else []
    tell_people(
        session,
        told,
        "assignment_answered",
        _values(roster, incident, instruction, row),
        now,
        incident_id=incident.id,
    )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="assignment_answered",
        actor=actor,
        summary=f"{row.unit_id} answered assignment {row.id}: {text}",
        data={"unit": row.unit_id, "answer": text, "assignment": row.id},
    )
    return row


async def decide_assignment(
    session: AsyncSession,
    roster: Roster,
    assignment_id: int,
    *,
    accept: bool,
    comment: str,
    actor: str,
    now: datetime,
) -> AssignmentRow:
    row = await service.lock_assignment(session, assignment_id)
    service.decide(row, accept=accept, comment=comment, actor=actor, now=now)
    incident = await incidents.lock_incident(session, row.incident_id)
    if not accept:
        instruction = await service.instruction_of(session, row.instruction_id)
        tell_people(
            session,
            assignees(roster, row, now),
            "assignment_sent_back",
            _values(roster, incident, instruction, row),
            now,
            incident_id=incident.id,
        )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="assignment_closed" if accept else "assignment_sent_back",
        actor=actor,
        summary=f"assignment {row.id} of {row.unit_id} "
        + ("closed" if accept else f"sent back: {comment}"),
        data={"unit": row.unit_id, "comment": comment, "assignment": row.id},
    )
    return row


async def advance_assignments(
    session: AsyncSession, roster: Roster, now: datetime, limit: int
) -> int:
    """Remind before the deadline; at it, an assignment not closed is late (督办)."""
    rows = await service.due(session, now, limit)
    for row in rows:
        instruction = await service.instruction_of(session, row.instruction_id)
        incident = await incidents.lock_incident(session, row.incident_id)
        values = _values(roster, incident, instruction, row)
        answered_in_time = row.answered_at is not None and row.answered_at <= row.deadline
        if row.state == "closed" or (
            row.phase == "late" and row.state == "answered" and answered_in_time
        ):
            row.phase = "done"  # done, or answered in time and waiting for the office
        elif row.phase == "remind":
            if row.state == "open":
                tell_people(
                    session,
                    assignees(roster, row, now),
                    "assignment_reminder",
                    values,
                    now,
                    incident_id=incident.id,
                )
            row.phase, row.next_at = "late", row.deadline
        else:
            row.late, row.phase = True, "done"
            people = _supervisors(roster, instruction, row, now)
            tell_people(session, people, "assignment_late", values, now, incident_id=incident.id)
            add_entry(
                session,
                incident_id=incident.id,
                at=now,
                kind="assignment_late",
                summary=f"OVERDUE: assignment {row.id} of {row.unit_id} was due "
                f"{row.deadline.isoformat()}",
                data={
                    "unit": row.unit_id,
                    "deadline": row.deadline.isoformat(),
                    "people": [p.id for p in people],
                    "assignment": row.id,
                },
            )
    return len(rows)


async def instructions_of_incident(
    session: AsyncSession, incident_id: int
) -> list[tuple[InstructionRow, list[AssignmentRow]]]:
    """The incident's instructions, each with its assignments, the latest first."""
    instructions = list(
        await session.scalars(
            select(InstructionRow)
            .where(InstructionRow.incident_id == incident_id)
            .order_by(InstructionRow.id.desc())
        )
    )
    rows = list(
        await session.scalars(
            select(AssignmentRow)
            .where(AssignmentRow.incident_id == incident_id)
            .order_by(AssignmentRow.id)
        )
    )
    return [(i, [a for a in rows if a.instruction_id == i.id]) for i in instructions]
