"""The response a plan calls for once an incident is under it: the first escalation step
paged at once, the people to tell at once, and the report duties opened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.escalation import chain
from service.escalation.fire import fire_step, notify_at_once
from service.incidents.tables import IncidentRow
from service.plans.models import ResolvedPlan
from service.reports import service as reports
from service.roster.roster import Roster


async def start_response(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    now: datetime,
    worker: str,
    skip_report_kinds: set[str] | None = None,
    reached_hops: set[str] | None = None,
    followup_number: int = 1,
    duties_from: datetime | None = None,
) -> None:
    """Page the first step (unless acknowledged), tell who must know, open the report duties
    (their deadlines counted from `duties_from`, by default when the office learned of it)."""
    paged: set[str] = set()
    if incident.acknowledged_at is None and plan.rules(Level(incident.level)).escalation:
        first = await chain.start_chain(
            session,
            incident_id=incident.id,
            generation=incident.escalation_generation,
            now=now,
            worker=worker,
        )
        messages = fire_step(
            session,
            roster=roster,
            plan=plan,
            incident=incident,
            step_row=first,
            now=now,
            worker=worker,
        )
        paged = {m.person_id for m in messages}
    notify_at_once(
        session, roster=roster, plan=plan, incident=incident, now=now, already_told=paged
    )
    reports.create_opening_duties(
        session,
        roster,
        plan,
        incident,
        now=now,
        learned_at=duties_from,
        skip=frozenset(skip_report_kinds or ()),
        reached=frozenset(reached_hops or ()),
        followup_number=followup_number,
    )
