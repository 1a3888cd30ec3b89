"""Casualty figures and the level they make: recorded on the incident, weighed against
its plan's thresholds (raise at once or put to the officer), and a follow-up owed on
the change where the plan asks for one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.flows.replan import change_level
from service.incidents import casualties
from service.incidents import service as incidents
from service.incidents.models import LEVEL_ORDER, CasualtyUpdate
from service.incidents.tables import IncidentRow
from service.notify.queue import tell_people
from service.plans.archive import plan_by_digest
from service.plans.casualty_levels import ImpliedLevel, implied_level
from service.plans.loader import PlanSet
from service.plans.models import ResolvedPlan, Target
from service.plans.targets import resolve_targets
from service.reports import followups
from service.roster.roster import Roster

# Who decides on a level the figures imply: the desk and the leader on shift of the unit.
DECIDERS = [Target(role="duty_officer"), Target(role="leader_on_shift")]


def level_above(plan: ResolvedPlan, incident: IncidentRow) -> ImpliedLevel | None:
    """The level the incident's figures make under its plan, if more severe than its own."""
    implied = implied_level(plan, incident.category, incident.event_type, incident.casualties)
    if implied is None or LEVEL_ORDER[implied.level] <= LEVEL_ORDER[Level(incident.level)]:
        return None
    return implied


async def weigh_casualties(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
) -> bool:
    """Raise the level the figures make, or put it to the officer, as the plan says; on
    the timeline either way. True if the level was raised."""
    plan = await plan_by_digest(session, incident.plan_version, plans)
    implied = level_above(plan, incident)
    if implied is None:
        return False
    if implied.on_crossing == "raise":
        await change_level(
            session,
            incident,
            roster=roster,
            plans=plans,
            level=implied.level,
            reason=f"casualty figures: {implied.reason}",
            actor=actor,
            now=now,
            worker=worker,
            cause={"cause": "figures", **implied.facts()},
        )
        return True
    if casualties.propose_level(
        session,
        incident,
        level=implied.level,
        reason=implied.reason,
        now=now,
        figures=implied.facts(),
    ):
        deciders = resolve_targets(
            roster,
            targets=DECIDERS,
            groups={},
            channels=[],
            incident_unit=incident.unit_id,
            at=now,
        ).people
        tell_people(
            session,
            deciders or roster.duty_office(now, incident.unit_id),
            "level_proposed",
            {
                "incident_id": incident.id,
                "title": incident.title,
                "level": incident.level,
                **implied.values(),
            },
            now,
            incident_id=incident.id,
        )
    return False


async def update_casualties(
    session: AsyncSession,
    incident_id: int,
    update: CasualtyUpdate,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
) -> IncidentRow:
    """Record the figures as now known; the level they make and a follow-up follow."""
    incident = await incidents.lock_incident(session, incident_id)
    if not casualties.set_casualties(session, incident, update, actor=actor, now=now):
        return incident
    await after_figures_changed(
        session, incident, roster=roster, plans=plans, actor=actor, now=now, worker=worker
    )
    return incident


async def after_figures_changed(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
) -> None:
    raised = await weigh_casualties(
        session, incident, roster=roster, plans=plans, actor=actor, now=now, worker=worker
    )
    if not raised:  # a raise owes its own follow-up on change
        plan = await plan_by_digest(session, incident.plan_version, plans)
        await followups.owe_followup_on_change(
            session,
            roster,
            plan,
            incident,
            what="casualty figures changed",
            now=now,
            cause={"change": "casualties"},
        )
