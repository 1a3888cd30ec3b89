"""Incident operations. Each runs in the caller's transaction and writes its consequences there:
timeline entries, escalation steps, messages and report duties."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import EVENT_TYPES, LEVEL_NAMES, Category, Level
from service.errors import InvalidInput, NotFound, UnknownValue
from service.escalation.fire import fire, notify_at_once
from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.incidents.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    DutyView,
    IncidentDetail,
    IncidentReport,
    IncidentStatus,
    IncidentView,
    MessageView,
    TimelineEntry,
)
from service.incidents.silences import active_silence
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.incidents.timeline import add_entry, pending_entries, write_pending
from service.notify.queue import queue_to_person
from service.notify.render import render_plain
from service.notify.tables import MessageRow
from service.plans.archive import plan_by_digest, remember_version
from service.plans.models import ResolvedPlan
from service.plans.selection import choose_plan
from service.reports import service as reports
from service.reports.duties import DutySpec, ReportKind
from service.reports.tables import DutyState, ReportDutyRow
from service.runtime import Runtime

LEVEL_ORDER = {Level.I: 4, Level.II: 3, Level.III: 2, Level.IV: 1}


def check_report(runtime: Runtime, report: IncidentReport) -> None:
    """Refuse a report naming things that do not exist, before anything is stored."""
    if report.unit not in runtime.roster.units:
        raise UnknownValue("unit", report.unit, sorted(runtime.roster.units))
    if report.event_type not in EVENT_TYPES[report.category]:
        raise UnknownValue("event_type", report.event_type, list(EVENT_TYPES[report.category]))


async def lock_incident(session: AsyncSession, incident_id: int) -> IncidentRow:
    incident = await session.scalar(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    )
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


async def report_incident(
    session: AsyncSession,
    runtime: Runtime,
    report: IncidentReport,
    *,
    reporter: str,
    now: datetime,
    worker: str,
) -> tuple[IncidentRow, bool]:
    """Log an incident, or update the open one with the same dedup key. True if deduplicated."""
    check_report(runtime, report)
    learned_at = report.learned_at or now
    if learned_at > now:
        raise InvalidInput("learned_at lies in the future", field="learned_at")
    if report.dedup_key:
        existing = await session.scalar(
            select(IncidentRow)
            .where(
                IncidentRow.dedup_key == report.dedup_key,
                IncidentRow.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(IncidentRow.id)
            .limit(1)
            .with_for_update()
        )
        if existing is not None:
            await _merge_duplicate(
                session, runtime, existing, report, reporter=reporter, now=now, worker=worker
            )
            return existing, True

    choice = choose_plan(
        runtime.plans,
        runtime.roster,
        category=report.category,
        event_type=report.event_type,
        level=report.level,
        unit_id=report.unit,
    )
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
    incident = IncidentRow(
        category=report.category.value,
        event_type=report.event_type,
        level=report.level.value,
        unit_id=report.unit,
        title=report.title,
        description=report.description,
        location=report.location,
        latitude=report.latitude,
        longitude=report.longitude,
        casualties=report.casualties.model_dump(),
        losses=report.losses,
        attachments=list(report.attachments),
        dedup_key=report.dedup_key,
        silence_id=silence.id if silence else None,
        source=report.source,
        reporter=report.reporter or reporter,
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
        summary=f"reported ({report.source}): level {report.level.value} "
        f"{report.category.value}/{report.event_type} in {report.unit}: {report.title}",
    )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="plan_selected",
        summary=choice.reason,
        data={"plan": choice.plan.plan.id, "version": choice.plan.digest},
    )
    if silence is not None:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="silenced",
            summary=f"silenced by {silence.created_by} until "
            f"{silence.ends_at.isoformat()}: {silence.reason}; nobody is paged",
            data={"silence": silence.id},
        )
        return incident, False
    await _start_response(session, runtime, choice.plan.plan, incident, now=now, worker=worker)
    return incident, False


async def _start_response(
    session: AsyncSession,
    runtime: Runtime,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    now: datetime,
    worker: str,
    page: bool = True,
    skip_report_kinds: set[str] | None = None,
) -> None:
    """Page the first step (unless acknowledged), tell who must know, open the report duties."""
    paged: set[str] = set()
    if page and incident.acknowledged_at is None and plan.rules(Level(incident.level)).escalation:
        first = EscalationStepRow(
            incident_id=incident.id,
            generation=incident.escalation_generation,
            step_index=0,
            round=0,
            due_at=now,
            state=StepState.pending,
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
    reports.create_opening_duties(
        session, runtime.roster, plan, incident, now=now, skip_kinds=skip_report_kinds or set()
    )


async def _merge_duplicate(
    session: AsyncSession,
    runtime: Runtime,
    incident: IncidentRow,
    report: IncidentReport,
    *,
    reporter: str,
    now: datetime,
    worker: str,
) -> None:
    changes = []
    if report.description and report.description not in incident.description:
        stamp = now.astimezone(runtime.roster.unit(incident.unit_id).zone).strftime("%m-%d %H:%M")
        incident.description = f"{incident.description}\n[{stamp}] {report.description}".strip()
        changes.append("description")
    counts = report.casualties.model_dump()
    merged = {k: max(int(incident.casualties.get(k, 0)), v) for k, v in counts.items()}
    if merged != {k: int(incident.casualties.get(k, 0)) for k in counts}:
        incident.casualties = merged
        changes.append("casualties")
    new_refs = [a for a in report.attachments if a not in incident.attachments]
    if new_refs:
        incident.attachments = [*incident.attachments, *new_refs]
        changes.append("attachments")
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="duplicate_report",
        actor=reporter,
        summary=f"repeated report ({report.source}, key {report.dedup_key}): {report.title}"
        + (f"; updated {', '.join(changes)}" if changes else ""),
        data={"level": report.level.value},
    )
    if LEVEL_ORDER[report.level] > LEVEL_ORDER[Level(incident.level)]:
        await change_level(
            session,
            runtime,
            incident,
            level=report.level,
            reason=f"repeated report of level {report.level.value}",
            actor=reporter,
            now=now,
            worker=worker,
        )


async def _cancel_pending_steps(session: AsyncSession, incident_id: int, *kinds: str) -> int:
    query = (
        update(EscalationStepRow)
        .where(
            EscalationStepRow.incident_id == incident_id,
            EscalationStepRow.state == StepState.pending,
        )
        .values(state=StepState.cancelled)
    )
    if kinds:
        query = query.where(EscalationStepRow.kind.in_(kinds))
    return (await session.execute(query)).rowcount


async def _replan(
    session: AsyncSession,
    runtime: Runtime,
    incident: IncidentRow,
    *,
    actor: str,
    now: datetime,
    worker: str,
    why: str,
    restart: bool,
) -> None:
    """Put the incident under the plan that governs it now, with its current attributes.

    With `restart` (level or category changed) the new level's first step pages at once
    unless the incident is acknowledged, and report duties not yet made are replaced by the
    new plan's; without it (an operator moves the incident to an edited plan) pending
    escalation continues at the same step and time.
    """
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
    old = f"{incident.plan_id}@{incident.plan_version[:12]}"
    pending = (
        await session.scalars(
            select(EscalationStepRow)
            .where(
                EscalationStepRow.incident_id == incident.id,
                EscalationStepRow.state == StepState.pending,
            )
            .order_by(EscalationStepRow.due_at)
        )
    ).all()
    for step in pending:
        step.state = StepState.cancelled
    incident.plan_id, incident.plan_version = choice.plan.plan.id, choice.plan.digest
    incident.escalation_generation += 1
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="replanned",
        actor=actor,
        summary=f"{why}: {old} -> {incident.plan_id}@{incident.plan_version[:12]}; {choice.reason}",
        data={"plan": incident.plan_id, "version": incident.plan_version},
    )
    plan = choice.plan.plan
    escalation = plan.rules(level).escalation
    if not restart:
        chain = [s for s in pending if s.kind in (StepKind.step, StepKind.unanswered_alert)]
        if chain and escalation is not None and incident.acknowledged_at is None:
            was = chain[0]
            last = len(escalation.flat_steps()) - 1
            session.add(
                EscalationStepRow(
                    incident_id=incident.id,
                    generation=incident.escalation_generation,
                    step_index=min(was.step_index, last),
                    round=min(was.round, escalation.repeat),
                    due_at=was.due_at,
                    state=StepState.pending,
                )
            )
        return
    # New deadlines replace old ones not yet missed; a report already late stays owed.
    open_rows = (
        await session.scalars(
            select(ReportDutyRow).where(
                ReportDutyRow.incident_id == incident.id, ReportDutyRow.state == DutyState.open
            )
        )
    ).all()
    keep = set(await reports.submitted_kinds(session, incident.id))
    for duty in open_rows:
        if duty.late:
            keep.add(duty.kind)
        elif duty.kind != ReportKind.final:
            duty.state, duty.next_at = DutyState.cancelled, None
    await _start_response(
        session, runtime, plan, incident, now=now, worker=worker, skip_report_kinds=keep
    )


async def change_level(
    session: AsyncSession,
    runtime: Runtime,
    incident: IncidentRow | int,
    *,
    level: Level,
    reason: str,
    actor: str,
    now: datetime,
    worker: str,
) -> IncidentRow:
    """Raise or lower the level: the new level's plan, targets and deadlines take over."""
    row = incident if isinstance(incident, IncidentRow) else await lock_incident(session, incident)
    _require_open(row)
    if Level(row.level) == level:
        raise InvalidInput(f"incident {row.id} is already level {level.value}", field="level")
    old = row.level
    row.level = level.value
    verb = "raised" if LEVEL_ORDER[level] > LEVEL_ORDER[Level(old)] else "lowered"
    add_entry(
        session,
        incident_id=row.id,
        at=now,
        kind="level_changed",
        actor=actor,
        summary=f"level {verb} from {old} to {level.value} ({LEVEL_NAMES[level]['en']}): {reason}",
        data={"from": old, "to": level.value},
    )
    await _replan(
        session,
        runtime,
        row,
        actor=actor,
        now=now,
        worker=worker,
        why=f"re-planned for level {level.value}",
        restart=True,
    )
    return row


async def change_category(
    session: AsyncSession,
    runtime: Runtime,
    incident_id: int,
    *,
    category: Category,
    event_type: str,
    reason: str,
    actor: str,
    now: datetime,
    worker: str,
) -> IncidentRow:
    """Correct the category and event type: re-planned like a level change."""
    if event_type not in EVENT_TYPES[category]:
        raise UnknownValue("event_type", event_type, list(EVENT_TYPES[category]))
    row = await lock_incident(session, incident_id)
    _require_open(row)
    old = f"{row.category}/{row.event_type}"
    row.category, row.event_type = category.value, event_type
    add_entry(
        session,
        incident_id=row.id,
        at=now,
        kind="category_changed",
        actor=actor,
        summary=f"category corrected from {old} to {category.value}/{event_type}: {reason}",
    )
    await _replan(
        session,
        runtime,
        row,
        actor=actor,
        now=now,
        worker=worker,
        why="re-planned for the corrected category",
        restart=True,
    )
    return row


async def replan(
    session: AsyncSession,
    runtime: Runtime,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    worker: str = "operator",
) -> IncidentRow:
    """Move a running incident to the plan in force now (after plans were edited)."""
    row = await lock_incident(session, incident_id)
    await _replan(
        session,
        runtime,
        row,
        actor=actor,
        now=now,
        worker=worker,
        why=f"re-planned by {actor}",
        restart=False,
    )
    return row


def _require_open(incident: IncidentRow) -> None:
    if incident.status not in [s.value for s in OPEN_STATUSES]:
        raise InvalidInput(f"incident {incident.id} is {incident.status}", field="status")


async def acknowledge(
    session: AsyncSession, runtime: Runtime, *, incident_id: int, actor: str, now: datetime
) -> IncidentRow:
    """Stop the escalation, tell everyone paged so far; a repeat acknowledgement changes nothing."""
    incident = await lock_incident(session, incident_id)
    if incident.acknowledged_at is not None or incident.status not in (
        IncidentStatus.reported,
        IncidentStatus.acknowledged,
        IncidentStatus.responding,
    ):
        return incident
    incident.acknowledged_at, incident.acknowledged_by = now, actor
    if incident.status == IncidentStatus.reported:
        incident.status = IncidentStatus.acknowledged.value
    cancelled = await _cancel_pending_steps(
        session, incident_id, StepKind.step, StepKind.unanswered_alert
    )
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="acknowledged",
        actor=actor,
        summary=f"acknowledged by {actor}; {cancelled} pending escalation step(s) cancelled",
    )
    plan = await plan_by_digest(session, incident.plan_version, runtime.plans)
    escalation = plan.rules(Level(incident.level)).escalation
    if escalation is not None and escalation.renotify_after is not None:
        session.add(
            EscalationStepRow(
                incident_id=incident_id,
                generation=incident.escalation_generation,
                kind=StepKind.ack_timeout,
                step_index=-1,
                round=0,
                due_at=now + escalation.renotify_after,
                state=StepState.pending,
            )
        )
    await _tell_paged_people(session, runtime, incident, actor=actor, now=now)
    return incident


async def _tell_paged_people(
    session: AsyncSession, runtime: Runtime, incident: IncidentRow, *, actor: str, now: datetime
) -> None:
    await write_pending(session)
    fired = await session.scalars(
        select(TimelineEntryRow.data).where(
            TimelineEntryRow.incident_id == incident.id, TimelineEntryRow.kind == "step_fired"
        )
    )
    paged = dict.fromkeys(p for data in fired for p in data.get("people", []))
    for person_id in paged:
        person = runtime.roster.people.get(person_id)
        if person is None or person_id == actor:
            continue
        body = render_plain(
            "acknowledged",
            person.language,
            {"incident_id": incident.id, "title": incident.title, "actor": actor},
        )
        queue_to_person(session, person, body, now, incident_id=incident.id)


async def set_status(
    session: AsyncSession,
    runtime: Runtime,
    *,
    incident_id: int,
    status: IncidentStatus,
    note: str,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Move the incident along reported → acknowledged → responding → resolved → closed."""
    incident = await lock_incident(session, incident_id)
    current = IncidentStatus(incident.status)
    if status == current:
        return incident
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "nothing"
        raise InvalidInput(
            f"incident {incident_id} is {current.value}; it can go to {allowed}", field="status"
        )
    if (
        status in (IncidentStatus.acknowledged, IncidentStatus.responding)
        and not incident.acknowledged_at
    ):
        await acknowledge(session, runtime, incident_id=incident_id, actor=actor, now=now)
    incident.status = status.value
    if status is IncidentStatus.resolved:
        incident.resolved_at = now
        await _cancel_pending_steps(session, incident_id)
        await reports.cancel_open_duties(
            session, incident_id, not_due_after=now, kinds=(ReportKind.followup.value,)
        )
        plan = await plan_by_digest(session, incident.plan_version, runtime.plans)
        final = plan.rules(Level(incident.level)).reports.final
        if final is not None:
            reports.create_duty(
                session,
                runtime.roster,
                plan,
                incident,
                DutySpec(ReportKind.final, 1, final, now + final.deadline),
                generation=incident.escalation_generation,
                now=now,
            )
    elif status is IncidentStatus.closed:
        incident.closed_at = now
    elif current is IncidentStatus.resolved:
        incident.resolved_at = None
    add_entry(
        session,
        incident_id=incident_id,
        at=now,
        kind="status_changed",
        actor=actor,
        summary=f"{current.value} -> {status.value}" + (f": {note}" if note else ""),
    )
    return incident


async def escalate_now(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime
) -> IncidentRow:
    """Bring the next pending escalation step forward to now."""
    incident = await lock_incident(session, incident_id)
    step = await session.scalar(
        select(EscalationStepRow)
        .where(
            EscalationStepRow.incident_id == incident_id,
            EscalationStepRow.state == StepState.pending,
            EscalationStepRow.kind != StepKind.ack_timeout,
        )
        .order_by(EscalationStepRow.due_at)
        .limit(1)
        .with_for_update()
    )
    if step is None:
        reason = "acknowledged" if incident.acknowledged_at else "at the end of its escalation"
        raise InvalidInput(f"incident {incident_id} has no further step to escalate to ({reason})")
    step.due_at = now
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
    runtime: Runtime,
    *,
    incident_id: int,
    kind: ReportKind,
    content: str,
    actor: str,
    now: datetime,
) -> ReportDutyRow:
    incident = await lock_incident(session, incident_id)
    plan = await plan_by_digest(session, incident.plan_version, runtime.plans)
    return await reports.submit_report(
        session, runtime.roster, plan, incident, kind=kind, content=content, actor=actor, now=now
    )


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
        latitude=row.latitude,
        longitude=row.longitude,
        casualties=row.casualties or {},
        losses=row.losses or "",
        attachments=row.attachments or [],
        source=row.source,
        reporter=row.reporter,
        dedup_key=row.dedup_key,
        silenced=row.silence_id is not None,
        status=IncidentStatus(row.status),
        occurred_at=row.occurred_at,
        learned_at=row.learned_at,
        created_at=row.created_at,
        plan_id=row.plan_id,
        plan_version=row.plan_version,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
    )


async def get_incident_detail(session: AsyncSession, *, incident_id: int) -> IncidentDetail:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound("incident", incident_id)
    await write_pending(session)
    entries = await session.scalars(
        select(TimelineEntryRow)
        .where(TimelineEntryRow.incident_id == incident_id)
        .order_by(TimelineEntryRow.at, TimelineEntryRow.id)
    )
    return _detail(
        row,
        [
            TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, summary=e.summary, data=e.data)
            for e in entries
        ],
        *await _messages_and_duties(session, incident_id),
    )


async def new_incident_detail(session: AsyncSession, incident: IncidentRow) -> IncidentDetail:
    """The detail of an incident logged in this very transaction (what `get_incident_detail`
    would read back after the commit), in the same transaction: its timeline entries are
    still pending, and its messages and duties are read from the write connection."""
    await session.flush()
    entries = [
        TimelineEntry(**{k: v for k, v in entry.items() if k != "incident_id"})
        for entry in pending_entries(session)
        if entry["incident_id"] == incident.id
    ]
    return _detail(
        incident,
        sorted(entries, key=lambda e: e.at),  # stable: ties keep the order of writing
        *await _messages_and_duties(session, incident.id),
    )


async def _messages_and_duties(
    session: AsyncSession, incident_id: int
) -> tuple[list[MessageRow], list[ReportDutyRow]]:
    messages = await session.scalars(
        select(MessageRow).where(MessageRow.incident_id == incident_id).order_by(MessageRow.id)
    )
    duties = await session.scalars(
        select(ReportDutyRow)
        .where(ReportDutyRow.incident_id == incident_id)
        .order_by(ReportDutyRow.due_at, ReportDutyRow.id)
    )
    return list(messages), list(duties)


def _detail(
    row: IncidentRow,
    timeline: list[TimelineEntry],
    messages: list[MessageRow],
    duties: list[ReportDutyRow],
) -> IncidentDetail:
    return IncidentDetail(
        **incident_view(row).model_dump(),
        timeline=timeline,
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
                digest_of=m.digest_of,
            )
            for m in messages
        ],
        reports=[duty_view(d) for d in duties],
    )


def duty_view(d: ReportDutyRow) -> DutyView:
    return DutyView(
        id=d.id,
        kind=d.kind,
        sequence=d.sequence,
        due_at=d.due_at,
        state=d.state,
        late=d.late,
        responsible=d.responsible_desc,
        recipients=d.recipients,
        submitted_at=d.submitted_at,
        submitted_by=d.submitted_by,
    )


async def list_incidents(
    session: AsyncSession, *, status: IncidentStatus | None = None, limit: int = 100
) -> list[IncidentView]:
    query = select(IncidentRow).order_by(IncidentRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(IncidentRow.status == status.value)
    return [incident_view(row) for row in await session.scalars(query)]
