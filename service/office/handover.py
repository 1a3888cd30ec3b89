"""交接班: the outgoing duty officer hands over open incidents; the incoming one confirms."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput, NotFound
from service.incidents.views import open_in_unit
from service.office.tables import HandoverRow
from service.reports.stats import open_duties
from service.roster.roster import Roster


def expected_successor(roster: Roster, unit_id: str, outgoing: str, now: datetime) -> str | None:
    """Who takes over as duty officer when the outgoing officer's current shift ends."""
    for shift in roster.assignments(unit_id, "duty_officer", now, now + timedelta(days=2)):
        if shift.person == outgoing and shift.start <= now < shift.end:
            successors = [
                p for p in roster.holder_ids("duty_officer", unit_id, shift.end) if p != outgoing
            ]
            return successors[0] if successors else None
    return None


async def start_handover(
    session: AsyncSession, roster: Roster, *, unit_id: str, outgoing: str, notes: str, now: datetime
) -> HandoverRow:
    roster.unit(unit_id)
    roster.person(outgoing)
    incidents = await open_in_unit(session, unit_id)
    duties = await open_duties(session, now=now, overdue_only=False, unit=unit_id)
    row = HandoverRow(
        unit_id=unit_id,
        created_at=now,
        outgoing=outgoing,
        incoming=expected_successor(roster, unit_id, outgoing, now),
        open_incidents=[
            {"id": i.id, "title": i.title, "level": i.level, "status": i.status} for i in incidents
        ],
        pending_reports=[
            {
                "incident_id": incident.id,
                "kind": duty.kind,
                "sequence": duty.sequence,
                "due_at": duty.due_at.isoformat(),
                "late": duty.late,
                "responsible": duty.responsible_desc,
            }
            for incident, duty in duties
        ],
        notes=notes,
    )
    session.add(row)
    await session.flush()
    return row


async def confirm_handover(
    session: AsyncSession, roster: Roster, *, handover_id: int, person: str, now: datetime
) -> HandoverRow:
    roster.person(person)
    row = await session.get(HandoverRow, handover_id, with_for_update=True)
    if row is None:
        raise NotFound("handover", handover_id)
    if row.confirmed_at is not None:
        raise InvalidInput(f"handover {handover_id} was already confirmed by {row.confirmed_by}")
    if person == row.outgoing:
        raise InvalidInput("the outgoing officer cannot confirm their own handover", field="person")
    row.confirmed_at, row.confirmed_by, row.incoming = now, person, person
    return row
