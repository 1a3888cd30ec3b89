"""Re-planning a running incident: after a level raise or lowering, a corrected category,
or an edit of the plans, the plan that governs it now takes over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Category, Level
from service.escalation import chain
from service.flows.response import start_response
from service.incidents import attributes
from service.incidents import service as incidents
from service.incidents.tables import IncidentRow
from service.plans.archive import plan_by_digest, remember_version
from service.plans.loader import PlanSet
from service.plans.selection import Choice, choose_plan
from service.reports import followups, settle
from service.reports import service as reports
from service.roster.roster import Roster


def _choose(plans: PlanSet, roster: Roster, incident: IncidentRow) -> Choice:
    return choose_plan(
        plans,
        roster,
        category=Category(incident.category),
        event_type=incident.event_type,
        level=Level(incident.level),
        unit_id=incident.unit_id,
    )


async def _replan(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
    why: str,
    cause: dict[str, Any],
    restart: bool,
) -> None:
    """Put the incident under the plan that governs it now, with its current attributes.

    With `restart` (level or category changed) the new level's first step pages at once
    unless the incident is acknowledged, and report duties not yet made are replaced by the
    new plan's; without it (an operator moves the incident to an edited plan) pending
    escalation continues at the same step and time.
    """
    choice = _choose(plans, roster, incident)
    await remember_version(session, choice.plan, now)
    cancelled = await chain.cancel_for_replan(session, incident_id=incident.id)
    attributes.set_plan(
        session,
        incident,
        plan=choice.plan,
        why=why,
        reason=choice.reason,
        actor=actor,
        now=now,
        cause=cause,
        grounds=choice.grounds,
    )
    plan = choice.plan.plan
    if not restart:
        escalation = plan.rules(Level(incident.level)).escalation
        if escalation is not None and incident.acknowledged_at is None:
            chain.carry_over(
                session,
                incident_id=incident.id,
                generation=incident.escalation_generation,
                cancelled=cancelled,
                escalation=escalation,
            )
        return
    # New deadlines replace old ones not yet missed; a report already late stays owed. The
    # new ones count from now, when the office learned of the new level: a raise 40 minutes
    # in must not book a 30-minute report late before anyone knew it was owed.
    keep = await settle.withdraw_for_replan(session, incident_id=incident.id)
    made = await reports.submitted_keys(session, incident.id)
    await start_response(
        session,
        roster,
        plan,
        incident,
        now=now,
        worker=worker,
        skip_report_kinds=keep,
        reached_hops={key.split(":", 1)[1] for key in made if ":" in key},
        followup_number=await reports.followups_counted(session, incident.id) + 1,
        duties_from=now,
    )


async def change_level(
    session: AsyncSession,
    incident: IncidentRow | int,
    *,
    roster: Roster,
    plans: PlanSet,
    level: Level,
    reason: str,
    actor: str,
    now: datetime,
    worker: str,
    cause: dict[str, Any] | None = None,
) -> IncidentRow:
    """Raise or lower the level: the new level's plan, targets and deadlines take over.
    `cause`: what made dutyd raise it, as facts for the timeline (`attributes.set_level`)."""
    row = (
        incident
        if isinstance(incident, IncidentRow)
        else await incidents.lock_incident(session, incident)
    )
    attributes.set_level(
        session, row, level=level, reason=reason, actor=actor, now=now, cause=cause
    )
    await _replan(
        session,
        row,
        roster=roster,
        plans=plans,
        actor=actor,
        now=now,
        worker=worker,
        why=f"re-planned for level {level.value}",
        cause={"cause": "level", "level": level.value},
        restart=True,
    )
    plan = await plan_by_digest(session, row.plan_version, plans)
    await followups.owe_followup_on_change(
        session,
        roster,
        plan,
        row,
        what=f"level changed to {level.value}",
        now=now,
        cause={"change": "level", "level": level.value},
    )
    return row


async def change_category(
    session: AsyncSession,
    incident_id: int,
    *,
    roster: Roster,
    plans: PlanSet,
    category: Category,
    event_type: str,
    reason: str,
    actor: str,
    now: datetime,
    worker: str,
) -> IncidentRow:
    """Correct the category and event type: re-planned like a level change."""
    row = await incidents.lock_incident(session, incident_id)
    attributes.set_category(
        session, row, category=category, event_type=event_type, reason=reason, actor=actor, now=now
    )
    await _replan(
        session,
        row,
        roster=roster,
        plans=plans,
        actor=actor,
        now=now,
        worker=worker,
        why="re-planned for the corrected category",
        cause={"cause": "category"},
        restart=True,
    )
    return row


async def replan(
    session: AsyncSession,
    *,
    roster: Roster,
    plans: PlanSet,
    incident_id: int,
    actor: str,
    now: datetime,
    worker: str = "operator",
) -> IncidentRow:
    """Move a running incident to the plan in force now (after plans were edited)."""
    row = await incidents.lock_incident(session, incident_id)
    await _replan(
        session,
        row,
        roster=roster,
        plans=plans,
        actor=actor,
        now=now,
        worker=worker,
        why=f"re-planned by {actor}",
        cause={"cause": "operator"},
        restart=False,
    )
    return row
