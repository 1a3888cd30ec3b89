"""An incident's workflows: log it, acknowledge it, move it along its states, escalate
now, submit a report (re-planning is `flows.replan`). Each runs in the caller's
transaction and has each subject write its own rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.errors import InvalidInput
from service.escalation import chain
from service.escalation.tables import StepKind
from service.flows.casualties import after_figures_changed, weigh_casualties
from service.flows.replan import change_category, change_level, replan
from service.flows.response import start_response
from service.incidents import service as incidents
from service.incidents.models import LEVEL_ORDER, IncidentReport, IncidentStatus
from service.incidents.silences import active_silence
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry, fired_step_people
from service.notify.queue import tell_people, withdraw_pending
from service.plans.archive import plan_by_digest, remember_version
from service.plans.casualty_levels import implied_level
from service.plans.loader import PlanSet
from service.plans.selection import Choice, choose_plan, named_plan
from service.reports import followups, settle
from service.reports import service as reports
from service.reports.duties import ReportKind
from service.reports.tables import ReportDutyRow
from service.roster.roster import Roster


@dataclass(frozen=True)
class Drilled:
    """The drill an incident is logged for, and the plan it runs."""

    drill_id: int
    plan_id: str


# Every workflow of an incident is reached from here; re-planning has its own module.
__all__ = [
    "Drilled",
    "acknowledge",
    "change_category",
    "change_level",
    "escalate_now",
    "replan",
    "report_incident",
    "set_status",
    "submit_report",
]


async def report_incident(
    session: AsyncSession,
    report: IncidentReport,
    *,
    roster: Roster,
    plans: PlanSet,
    reporter: str,
    now: datetime,
    worker: str,
    learned_within: timedelta = incidents.LEARNED_WITHIN,
    drill: Drilled | None = None,
    known_new: bool = False,
) -> tuple[IncidentRow, bool]:
    """Log an incident, or update the open one with the same dedup key. True if deduplicated.
    A drill's incident runs under the plan the drill names, never merged with another.
    `known_new`: this transaction holds the dedup key's lock and found no open incident
    of it (machine intake looks up a batch's keys at once): not looked up again."""
    learned_at = incidents.check_report(roster, report, now=now, learned_within=learned_within)
    if report.dedup_key and drill is None and not known_new:
        existing = await incidents.open_duplicate(session, report.dedup_key)
        if existing is not None:
            changes = incidents.merge_repeat(
                session, existing, report, roster=roster, reporter=reporter, now=now
            )
            if LEVEL_ORDER[report.level] > LEVEL_ORDER[Level(existing.level)]:
                await change_level(
                    session,
                    existing,
                    roster=roster,
                    plans=plans,
                    level=report.level,
                    reason=f"repeated report of level {report.level.value}",
                    actor=reporter,
                    now=now,
                    worker=worker,
                    cause={"cause": "repeat"},
                )
            if "casualties" in changes:
                await after_figures_changed(
                    session,
                    existing,
                    roster=roster,
                    plans=plans,
                    actor=reporter,
                    now=now,
                    worker=worker,
                )
            return existing, True

    def governing(level: Level) -> Choice:
        if drill is not None:
            return named_plan(plans, drill.plan_id, level)
        return choose_plan(
            plans,
            roster,
            category=report.category,
            event_type=report.event_type,
            level=level,
            unit_id=report.unit,
        )

    choice = governing(report.level)
    reported_level = report.level
    implied = implied_level(
        choice.plan.plan, report.category, report.event_type, report.casualties.model_dump()
    )
    if (
        implied is not None
        and implied.on_crossing == "raise"
        and LEVEL_ORDER[implied.level] > LEVEL_ORDER[report.level]
    ):
        # The plan says such figures make a higher level: logged at it from the start.
        report = report.model_copy(update={"level": implied.level})
        choice = governing(implied.level)
    await remember_version(session, choice.plan, now)
    silence = await active_silence(
        session,
        source=report.source,
        category=report.category.value,
        event_type=report.event_type,
        unit=report.unit,
        dedup_key=report.dedup_key,
        now=now,
    )
    incident = await incidents.log_incident(
        session,
        report,
        plan=choice.plan,
        plan_reason=choice.reason,
        plan_grounds=choice.grounds,
        learned_at=learned_at,
        silence=silence,
        reporter=reporter,
        now=now,
        drill_id=drill.drill_id if drill else None,
    )
    if report.level != reported_level:
        incidents.note_level_from_figures(
            session,
            incident,
            reported=reported_level,
            reason=implied.reason if implied else "",
            now=now,
            figures=implied.facts() if implied else None,
        )
    if silence is None:
        await start_response(session, roster, choice.plan.plan, incident, now=now, worker=worker)
        await weigh_casualties(
            session, incident, roster=roster, plans=plans, actor=reporter, now=now, worker=worker
        )
    return incident, False


async def acknowledge(
    session: AsyncSession,
    *,
    roster: Roster,
    plans: PlanSet,
    incident_id: int,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Stop the escalation, tell everyone paged so far; a repeat acknowledgement changes nothing."""
    incident = await incidents.lock_incident(session, incident_id)
    if not incidents.may_acknowledge(incident):
        return incident
    incidents.record_acknowledgement(incident, actor=actor, now=now)
    cancelled = await chain.cancel_pending(
        session, incident_id=incident_id, kinds=(StepKind.step, StepKind.unanswered_alert)
    )
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="acknowledged",
        actor=actor,
        summary=f"acknowledged by {actor}; {cancelled} pending escalation step(s) cancelled",
        data={"cancelled": cancelled},
    )
    plan = await plan_by_digest(session, incident.plan_version, plans)
    escalation = plan.rules(Level(incident.level)).escalation
    if escalation is not None and escalation.renotify_after is not None:
        chain.schedule_ack_timeout(
            session,
            incident_id=incident_id,
            generation=incident.escalation_generation,
            due_at=now + escalation.renotify_after,
        )
    paged = await fired_step_people(session, incident_id)
    tell_people(
        session,
        [roster.people[p] for p in paged if p in roster.people and p != actor],
        "acknowledged",
        {"incident_id": incident.id, "title": incident.title, "actor": actor},
        now,
        incident_id=incident.id,
    )
    return incident


async def set_status(
    session: AsyncSession,
    *,
    roster: Roster,
    plans: PlanSet,
    incident_id: int,
    status: IncidentStatus,
    note: str,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Move the incident along reported → acknowledged → responding → resolved → closed."""
    incident = await incidents.lock_incident(session, incident_id)
    current = IncidentStatus(incident.status)
    if status == current:
        return incident
    incidents.check_move(incident, status)
    if (
        status in (IncidentStatus.acknowledged, IncidentStatus.responding)
        and not incident.acknowledged_at
    ):
        await acknowledge(
            session, roster=roster, plans=plans, incident_id=incident_id, actor=actor, now=now
        )
    if IncidentStatus(incident.status) != status:
        incidents.move(incident, status, now=now)
    if status is IncidentStatus.resolved:
        await chain.cancel_pending(session, incident_id=incident_id)
        withdrawn = await withdraw_pending(
            session, incident_id=incident_id, reason=f"incident resolved by {actor}", now=now
        )
        if withdrawn:
            add_entry(
                session,
                incident_id=incident_id,
                at=now,
                kind="messages_withdrawn",
                actor=actor,
                summary=f"{withdrawn} message(s) not yet sent were withdrawn: resolved",
                data={"withdrawn": withdrawn, "because": IncidentStatus.resolved.value},
            )
        await reports.cancel_open_duties(
            session, incident_id, not_due_after=now, kinds=(ReportKind.followup.value,)
        )
        plan = await plan_by_digest(session, incident.plan_version, plans)
        reports.open_final_duty(session, roster, plan, incident, now=now)
    elif status is IncidentStatus.closed:
        await settle.settle_on_close(session, roster, incident, actor=actor, now=now)
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="status_changed",
        actor=actor,
        summary=f"{current.value} -> {status.value}" + (f": {note}" if note else ""),
        data={"from": current.value, "to": status.value, "note": note},
    )
    return incident


async def escalate_now(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime
) -> IncidentRow:
    """Bring the next pending escalation step forward to now."""
    incident = await incidents.lock_incident(session, incident_id)
    step = await chain.bring_forward(session, incident_id=incident_id, now=now)
    if step is None:
        reason = "acknowledged" if incident.acknowledged_at else "at the end of its escalation"
        raise InvalidInput(f"incident {incident_id} has no further step to escalate to ({reason})")
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="escalated_now",
        actor=actor,
        summary=f"{actor} escalated now: the next step fires at once",
    )
    return incident


async def submit_report(
    session: AsyncSession,
    *,
    roster: Roster,
    plans: PlanSet,
    incident_id: int,
    kind: ReportKind,
    content: str,
    actor: str,
    now: datetime,
    hop: str | None = None,
) -> ReportDutyRow:
    """Make a report; the next follow-up, or the next hop up the chain, falls due."""
    incident = await incidents.lock_incident(session, incident_id)
    plan = await plan_by_digest(session, incident.plan_version, plans)
    duty = await reports.submit_report(
        session, roster, plan, incident, kind=kind, content=content, actor=actor, now=now, hop=hop
    )
    if duty.kind == ReportKind.followup:
        await followups.schedule_next_followup(session, roster, plan, incident, duty, now)
    return duty
