"""Follow-up reports (续报): the next on the plan's cadence, and one owed on a change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.incidents.tables import IncidentRow
from service.plans.models import FollowUps, ResolvedPlan
from service.reports.duties import DutySpec, ReportKind, followup_owed_after
from service.reports.service import create_duty, followups_counted, note_duties_due
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.roster.roster import Roster


async def schedule_next_followup(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    previous: ReportDutyRow,
    now: datetime,
) -> ReportDutyRow | None:
    """After a follow-up was made (or went late): the next one on the plan's cadence."""
    rule = plan.rules(Level(incident.level)).reports.followups
    if not isinstance(rule, FollowUps) or incident.resolved_at is not None:
        return None
    if rule.every is None and not rule.at:
        return None  # follow-ups on change only
    exists = await session.scalar(
        select(ReportDutyRow.id).where(
            ReportDutyRow.incident_id == incident.id,
            ReportDutyRow.kind == ReportKind.followup.value,
            ReportDutyRow.generation == previous.generation,
            ReportDutyRow.sequence == previous.sequence + 1,
        )
    )
    if exists is not None:
        return None
    zone = roster.unit(incident.unit_id).zone
    spec = DutySpec(
        ReportKind.followup,
        previous.sequence + 1,
        rule,
        followup_owed_after(rule, previous.due_at, now, zone),
    )
    return create_duty(
        session, roster, plan, incident, spec, generation=previous.generation, now=now
    )


async def owe_followup_on_change(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    what: str,
    now: datetime,
    cause: dict[str, Any] | None = None,
) -> ReportDutyRow | None:
    """The figures or the level changed: where the plan asks for a follow-up on change,
    one is owed within `on_change`. The next follow-up already owed is brought forward if
    it falls later; otherwise a new one is opened, numbered after the last. `cause` is
    `what` as facts, for the timeline."""
    rule = plan.rules(Level(incident.level)).reports.followups
    if rule is None or rule.on_change is None or incident.resolved_at is not None:
        return None
    due = now + rule.on_change
    pending = await session.scalar(
        select(ReportDutyRow)
        .where(
            ReportDutyRow.incident_id == incident.id,
            ReportDutyRow.kind == ReportKind.followup.value,
            ReportDutyRow.state == DutyState.open,
            ReportDutyRow.late.is_(False),
        )
        .order_by(ReportDutyRow.due_at)
        .limit(1)
        .with_for_update()
    )
    if pending is not None:
        if pending.due_at <= due:
            return None
        pending.due_at = due
        pending.remind_at = None
        pending.next_at, pending.phase = due, DutyPhase.deadline
        row = pending
    else:
        last = await session.scalar(
            select(func.max(ReportDutyRow.sequence)).where(
                ReportDutyRow.incident_id == incident.id,
                ReportDutyRow.kind == ReportKind.followup.value,
                ReportDutyRow.generation == incident.escalation_generation,
            )
        )
        number = max(int(last or 0), await followups_counted(session, incident.id)) + 1
        row = create_duty(
            session,
            roster,
            plan,
            incident,
            DutySpec(ReportKind.followup, number, rule, due),
            generation=incident.escalation_generation,
            now=now,
        )
    note_duties_due(session, roster, incident, [row], now=now, why=f"{what}: ", cause=cause)
    return row
