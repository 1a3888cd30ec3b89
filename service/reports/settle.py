"""How open report duties end other than by a report: settled when the incident closes,
withdrawn when a re-plan sets new deadlines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.reports.duties import ReportKind, duty_key
from service.reports.names import duty_facts, duty_name, local_time
from service.reports.service import submitted_keys
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.roster.roster import Roster


async def settle_on_close(
    session: AsyncSession, roster: Roster, incident: IncidentRow, *, actor: str, now: datetime
) -> tuple[int, int]:
    """Closing settles every open duty: one already due and never made is recorded missing
    (漏报) against its responsible person; one not yet due is cancelled, with the reason.
    Each on the timeline. Returns (missing, cancelled)."""
    rows = await session.scalars(
        select(ReportDutyRow)
        .where(ReportDutyRow.incident_id == incident.id, ReportDutyRow.state == DutyState.open)
        .order_by(ReportDutyRow.due_at, ReportDutyRow.id)
    )
    missing = cancelled = 0
    for duty in rows.all():
        duty.next_at, duty.phase = None, DutyPhase.done
        due = local_time(roster, incident, duty.due_at)
        if duty.due_at <= now:
            duty.state, duty.late = DutyState.missing, True
            missing += 1
            add_entry(
                session,
                incident_id=incident.id,
                at=now,
                kind="report_missing",
                actor=actor,
                summary=f"MISSED (漏报): {duty_name(duty, 'en')} was due {due} and never made; "
                f"responsible {duty.responsible_desc}",
                data={**duty_facts(duty), "responsible": duty.responsible_id},
            )
        else:
            duty.state = DutyState.cancelled
            cancelled += 1
            add_entry(
                session,
                incident_id=incident.id,
                at=now,
                kind="report_cancelled",
                actor=actor,
                summary=f"{duty_name(duty, 'en')} due {due} no longer owed: the incident "
                f"was closed by {actor}",
                data=duty_facts(duty),
            )
    return missing, cancelled


async def withdraw_for_replan(session: AsyncSession, *, incident_id: int) -> set[str]:
    """Before a re-plan: open duties not yet late are withdrawn (the new plan sets its
    own deadlines); returns the duties (`duty_key`) the new plan must not open again:
    those already submitted, and those already late (a late report stays owed). The final
    report, owed once resolved, is kept."""
    keep = await submitted_keys(session, incident_id)
    open_rows = await session.scalars(
        select(ReportDutyRow).where(
            ReportDutyRow.incident_id == incident_id, ReportDutyRow.state == DutyState.open
        )
    )
    for duty in open_rows.all():
        if duty.late:
            keep.add(duty_key(duty.kind, duty.hop))
        elif duty.kind != ReportKind.final:
            duty.state, duty.next_at = DutyState.cancelled, None
    return keep
