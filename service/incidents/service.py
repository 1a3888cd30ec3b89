"""Incident operations: report, acknowledge, read. Each runs in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import EVENT_TYPES, Category, Level
from service.errors import InvalidInput, NotFound, UnknownValue
from service.escalation.fire import fire, notify_at_once
from service.escalation.tables import EscalationStepRow, StepState
from service.incidents.models import (
    IncidentDetail,
    IncidentReport,
    IncidentStatus,
    IncidentView,
    MessageView,
    TimelineEntry,
)
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.incidents.timeline import add_entry
from service.notify.tables import MessageRow
from service.plans.archive import remember_version
from service.plans.selection import choose_plan
from service.runtime import Runtime


def check_report(runtime: Runtime, report: IncidentReport) -> None:
    """Refuse a report naming things that do not exist, before anything is stored."""
    if report.unit not in runtime.roster.units:
        raise UnknownValue("unit", report.unit, sorted(runtime.roster.units))
    if report.event_type not in EVENT_TYPES[report.category]:
        raise UnknownValue("event_type", report.event_type, list(EVENT_TYPES[report.category]))


async def report_incident(
    session: AsyncSession,
    runtime: Runtime,
    report: IncidentReport,
    *,
    reporter: str,
    now: datetime,
    worker: str,
) -> IncidentRow:
    """Log an incident under its governing plan and fire the plan's first step at once."""
    check_report(runtime, report)
    learned_at = report.learned_at or now
    if learned_at > now:
        raise InvalidInput("learned_at lies in the future", field="learned_at")
    choice = choose_plan(
        runtime.plans,
        runtime.roster,
        category=report.category,
        event_type=report.event_type,
        level=report.level,
        unit_id=report.unit,
    )
    await remember_version(session, choice.plan, now)
    incident = IncidentRow(
        category=report.category.value,
        event_type=report.event_type,
        level=report.level.value,
        unit_id=report.unit,
        title=report.title,
        description=report.description,
        location=report.location,
        source=report.source,
        reporter=reporter,
        status=IncidentStatus.reported.value,
        occurred_at=report.occurred_at,
        learned_at=learned_at,
        created_at=now,
        plan_id=choice.plan.plan.id,
        plan_version=choice.plan.digest,
    )
    session.add(incident)
    await session.flush()
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="reported",
        actor=reporter,
        summary=f"reported: level {report.level.value} {report.category.value}/"
        f"{report.event_type} in {report.unit}: {report.title}",
    )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="plan_selected",
        summary=choice.reason,
        data={"plan": choice.plan.plan.id, "version": choice.plan.digest},
    )
    plan = choice.plan.plan
    paged: set[str] = set()
    if plan.rules(report.level).escalation is not None:
        first = EscalationStepRow(
            incident_id=incident.id, step_index=0, round=0, due_at=now, state=StepState.pending
        )
        session.add(first)
        await session.flush()
        messages = fire(
            session,
            roster=runtime.roster,
            plan=plan,
            incident=incident,
            step_row=first,
            now=now,
            worker=worker,
        )
        paged = {m.person_id for m in messages}
    notify_at_once(
        session, roster=runtime.roster, plan=plan, incident=incident, now=now, already_told=paged
    )
    return incident


async def replan(
    session: AsyncSession,
    runtime: Runtime,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Put an incident under the plan that governs it now, as loaded now.

    Running incidents keep the plan version they started under until an operator asks
    for this. Pending escalation moves to the new plan at the same position (step and
    round, as far as the new chain reaches) and the same due time.
    """
    incident = await lock_incident(session, incident_id)
    level = Level(incident.level)
    choice = choose_plan(
        runtime.plans,
        runtime.roster,
        category=Category(incident.category),
        event_type=incident.event_type,
        level=level,
        unit_id=incident.unit_id,
    )
    await remember_version(session, choice.plan, now)
    pending = (
        await session.scalars(
            select(EscalationStepRow)
            .where(EscalationStepRow.incident_id == incident_id)
            .where(EscalationStepRow.state == StepState.pending)
            .order_by(EscalationStepRow.due_at)
        )
    ).all()
    for step in pending:
        step.state = StepState.cancelled
    old = f"{incident.plan_id}@{incident.plan_version[:12]}"
    incident.plan_id, incident.plan_version = choice.plan.plan.id, choice.plan.digest
    incident.escalation_generation += 1
    escalation = choice.plan.plan.rules(level).escalation
    if pending and escalation is not None and incident.acknowledged_at is None:
        was = pending[0]
        last_index = len(escalation.flat_steps()) - 1
        session.add(
            EscalationStepRow(
                incident_id=incident_id,
                generation=incident.escalation_generation,
                step_index=min(was.step_index, last_index),
                round=min(was.round, escalation.repeat),
                due_at=was.due_at,
                state=StepState.pending,
            )
        )
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="replanned",
        actor=actor,
        summary=f"re-planned by {actor}: {old} -> {incident.plan_id}@{incident.plan_version[:12]}; "
        f"{choice.reason}",
        data={"plan": incident.plan_id, "version": incident.plan_version},
    )
    return incident


async def lock_incident(session: AsyncSession, incident_id: int) -> IncidentRow:
    incident = await session.scalar(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    )
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


async def acknowledge(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime
) -> IncidentRow:
    """Acknowledge an incident and cancel its pending escalation; a repeat ack changes nothing."""
    incident = await lock_incident(session, incident_id)
    if incident.acknowledged_at is not None:
        return incident
    incident.acknowledged_at = now
    incident.acknowledged_by = actor
    if incident.status == IncidentStatus.reported:
        incident.status = IncidentStatus.acknowledged.value
    cancelled = await session.execute(
        update(EscalationStepRow)
        .where(EscalationStepRow.incident_id == incident_id)
        .where(EscalationStepRow.state == StepState.pending)
        .values(state=StepState.cancelled)
    )
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="acknowledged",
        actor=actor,
        summary=f"acknowledged by {actor}; "
        f"{cancelled.rowcount} pending escalation step(s) cancelled",
    )
    return incident


def incident_view(row: IncidentRow) -> IncidentView:
    return IncidentView(
        id=row.id,
        category=row.category,
        event_type=row.event_type,
        level=Level(row.level),
        unit=row.unit_id,
        title=row.title,
        description=row.description,
        location=row.location,
        source=row.source,
        reporter=row.reporter,
        status=IncidentStatus(row.status),
        occurred_at=row.occurred_at,
        learned_at=row.learned_at,
        created_at=row.created_at,
        plan_id=row.plan_id,
        plan_version=row.plan_version,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


async def get_incident_detail(session: AsyncSession, *, incident_id: int) -> IncidentDetail:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound("incident", incident_id)
    entries = await session.scalars(
        select(TimelineEntryRow)
        .where(TimelineEntryRow.incident_id == incident_id)
        .order_by(TimelineEntryRow.at, TimelineEntryRow.id)
    )
    messages = await session.scalars(
        select(MessageRow).where(MessageRow.incident_id == incident_id).order_by(MessageRow.id)
    )
    return IncidentDetail(
        **incident_view(row).model_dump(),
        timeline=[
            TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, summary=e.summary, data=e.data)
            for e in entries
        ],
        messages=[
            MessageView(
                id=m.id,
                person_id=m.person_id,
                channel=m.channel,
                address=m.address,
                state=m.state,
                transport=m.transport,
                provider_id=m.provider_id,
                error=m.error,
                created_at=m.created_at,
                sent_at=m.sent_at,
            )
            for m in messages
        ],
    )


async def list_incidents(
    session: AsyncSession, *, status: IncidentStatus | None = None, limit: int = 100
) -> list[IncidentView]:
    query = select(IncidentRow).order_by(IncidentRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(IncidentRow.status == status.value)
    return [incident_view(row) for row in await session.scalars(query)]
