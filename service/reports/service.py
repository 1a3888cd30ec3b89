"""Report duties in the database: created with the incident, advanced by the engine, submitted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.durations import format_duration
from service.errors import InvalidInput
from service.escalation.steps import resolve_targets
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.queue import queue_message, queue_to_person
from service.notify.render import render_plain
from service.plans.models import FollowUps, ResolvedPlan
from service.reports.duties import (
    REPORT_NAMES,
    DutySpec,
    ReportKind,
    describe_targets,
    late_steps,
    next_followup_due,
    opening_duties,
)
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.roster.roster import Roster


def _local(roster: Roster, incident: IncidentRow, at: datetime) -> str:
    return at.astimezone(roster.unit(incident.unit_id).zone).strftime("%m-%d %H:%M")


def create_duty(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    spec: DutySpec,
    *,
    generation: int,
    now: datetime,
) -> ReportDutyRow:
    responsible = resolve_targets(
        roster,
        targets=[spec.rule.responsible],
        groups=plan.groups,
        channels=[],
        incident_unit=incident.unit_id,
        at=now,
    ).people
    remind_at = spec.remind_at if spec.remind_at and spec.remind_at > now else None
    row = ReportDutyRow(
        incident_id=incident.id,
        generation=generation,
        kind=spec.kind.value,
        sequence=spec.sequence,
        responsible_id=responsible[0].id if responsible else None,
        responsible_desc=(
            f"{responsible[0].name} ({spec.rule.responsible.describe()})"
            if responsible
            else f"nobody ({spec.rule.responsible.describe()})"
        ),
        recipients=describe_targets(spec.rule.to),
        via=[v.value for v in spec.rule.via],
        due_at=spec.due_at,
        remind_at=remind_at,
        next_at=remind_at or spec.due_at,
        phase=DutyPhase.remind if remind_at else DutyPhase.deadline,
        state=DutyState.open,
        created_at=now,
    )
    session.add(row)
    return row


def create_opening_duties(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    now: datetime,
    skip_kinds: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[ReportDutyRow]:
    rules = plan.rules(Level(incident.level))
    zone = roster.unit(incident.unit_id).zone
    rows = []
    for spec in opening_duties(rules.reports, incident.learned_at, zone):
        if spec.kind.value in skip_kinds:
            continue
        rows.append(
            create_duty(
                session,
                roster,
                plan,
                incident,
                spec,
                generation=incident.escalation_generation,
                now=now,
            )
        )
    if rows:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="reports_due",
            summary="reports due: "
            + "; ".join(
                f"{REPORT_NAMES[ReportKind(r.kind)]['en']} by {_local(roster, incident, r.due_at)}"
                for r in rows
            ),
        )
    return rows


async def cancel_open_duties(
    session: AsyncSession,
    incident_id: int,
    *,
    not_due_after: datetime | None = None,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Cancel open duties (only those not yet due by `not_due_after`, if given)."""
    query = (
        update(ReportDutyRow)
        .where(ReportDutyRow.incident_id == incident_id, ReportDutyRow.state == DutyState.open)
        .values(state=DutyState.cancelled, next_at=None, phase=DutyPhase.done)
    )
    if not_due_after is not None:
        query = query.where(ReportDutyRow.due_at > not_due_after)
    if kinds is not None:
        query = query.where(ReportDutyRow.kind.in_(kinds))
    return (await session.execute(query)).rowcount


async def submitted_kinds(session: AsyncSession, incident_id: int) -> set[str]:
    rows = await session.scalars(
        select(ReportDutyRow.kind).where(
            ReportDutyRow.incident_id == incident_id, ReportDutyRow.state == DutyState.submitted
        )
    )
    return set(rows)


async def schedule_next_followup(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    previous: ReportDutyRow,
    now: datetime,
) -> ReportDutyRow | None:
    rule = plan.rules(Level(incident.level)).reports.followups
    if not isinstance(rule, FollowUps) or incident.resolved_at is not None:
        return None
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
        next_followup_due(rule, previous.due_at, zone),
    )
    return create_duty(
        session, roster, plan, incident, spec, generation=previous.generation, now=now
    )


def _name(duty: ReportDutyRow, language: str) -> str:
    name = REPORT_NAMES[ReportKind(duty.kind)][language]
    return f"{name}#{duty.sequence}" if duty.kind == ReportKind.followup else name


async def advance_duty(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    duty: ReportDutyRow,
    now: datetime,
) -> None:
    """Do the duty's next due action: remind, record it late, or run the late escalation."""
    if duty.phase == DutyPhase.remind:
        if duty.responsible_id and duty.responsible_id in roster.people:
            person = roster.people[duty.responsible_id]
            text = render_plain(
                "report_reminder",
                person.language,
                {
                    "incident_id": incident.id,
                    "title": incident.title,
                    "report_name": _name(duty, person.language),
                    "due": _local(roster, incident, duty.due_at),
                    "recipients": "、".join(duty.recipients)
                    if person.language == "zh"
                    else ", ".join(duty.recipients),
                },
            )
            queue_to_person(session, person, text, now, incident_id=incident.id)
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="report_reminder",
            summary=f"reminded {duty.responsible_desc}: {_name(duty, 'en')} due "
            f"{_local(roster, incident, duty.due_at)}",
        )
        duty.phase, duty.next_at = DutyPhase.deadline, duty.due_at
        return
    if duty.phase == DutyPhase.deadline:
        duty.late, duty.late_recorded_at = True, now
        delay = format_duration(now - duty.due_at) if now > duty.due_at else "0s"
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="report_late",
            summary=f"LATE (迟报): {_name(duty, 'en')} was due "
            f"{_local(roster, incident, duty.due_at)}; responsible {duty.responsible_desc}",
            data={"duty": duty.id, "kind": duty.kind, "responsible": duty.responsible_id},
        )
        if duty.kind == ReportKind.followup:
            await schedule_next_followup(session, roster, plan, incident, duty, now)
        duty.phase, duty.late_step = DutyPhase.late, 0
    steps = late_steps(plan.rules(Level(incident.level)).reports)
    if duty.late_step >= len(steps):
        duty.phase, duty.next_at = DutyPhase.done, None
        return
    step = steps[duty.late_step]
    recipients = resolve_targets(
        roster,
        targets=step.notify,
        groups=plan.groups,
        channels=step.channels,
        incident_unit=incident.unit_id,
        at=now,
    )
    delay = format_duration(now - duty.due_at)
    for delivery in recipients.deliveries:
        language = delivery.person.language
        body = render_plain(
            "late_report",
            language,
            {
                "incident_id": incident.id,
                "title": incident.title,
                "report_name": _name(duty, language),
                "due": _local(roster, incident, duty.due_at),
                "delay": delay,
                "responsible": duty.responsible_desc,
            },
        )
        queue_message(
            session,
            person=delivery.person,
            channel=delivery.channel,
            address=delivery.address,
            body=body,
            now=now,
            incident_id=incident.id,
            subject=body[:80] if delivery.channel.value == "email" else "",
        )
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="late_escalation",
        summary=f"late {_name(duty, 'en')}: told {names} (late step {duty.late_step + 1})",
    )
    duty.late_step += 1
    if duty.late_step < len(steps):
        duty.next_at = now + step.wait
    else:
        duty.phase, duty.next_at = DutyPhase.done, None


async def submit_report(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    kind: ReportKind,
    content: str,
    actor: str,
    now: datetime,
) -> ReportDutyRow:
    """Record a report; it closes the oldest open duty of that kind. A late one stays late."""
    if not content.strip():
        raise InvalidInput("a report needs content", field="content")
    duty = await session.scalar(
        select(ReportDutyRow)
        .where(
            ReportDutyRow.incident_id == incident.id,
            ReportDutyRow.kind == kind.value,
            ReportDutyRow.state == DutyState.open,
        )
        .order_by(ReportDutyRow.due_at, ReportDutyRow.sequence)
        .limit(1)
        .with_for_update()
    )
    if duty is None:
        if kind is not ReportKind.supplement:
            raise InvalidInput(
                f"no {kind.value} report is due for incident {incident.id}", field="kind"
            )
        window = plan.rules(Level(incident.level)).reports.supplement_window
        if incident.resolved_at and window and now > incident.resolved_at + window:
            raise InvalidInput(
                f"the supplement window ({format_duration(window)} after resolution) has passed",
                field="kind",
            )
        count = await session.scalar(
            select(func.count())
            .select_from(ReportDutyRow)
            .where(ReportDutyRow.incident_id == incident.id, ReportDutyRow.kind == kind.value)
        )
        duty = ReportDutyRow(
            incident_id=incident.id,
            generation=incident.escalation_generation,
            kind=kind.value,
            sequence=int(count or 0) + 1,
            responsible_id=None,
            responsible_desc=actor,
            recipients=[],
            via=[],
            due_at=now,
            remind_at=None,
            next_at=None,
            phase=DutyPhase.done,
            state=DutyState.open,
            created_at=now,
        )
        session.add(duty)
    duty.state, duty.submitted_at, duty.submitted_by, duty.content = (
        DutyState.submitted,
        now,
        actor,
        content,
    )
    duty.next_at, duty.phase = None, DutyPhase.done
    if now > duty.due_at:
        duty.late = True
    lateness = f" — LATE by {format_duration(now - duty.due_at)}" if now > duty.due_at else ""
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="report_submitted",
        actor=actor,
        summary=f"{_name(duty, 'en')} submitted by {actor}{lateness}",
        data={"duty": duty.id, "kind": duty.kind, "late": duty.late},
    )
    if kind is ReportKind.followup:
        await schedule_next_followup(session, roster, plan, incident, duty, now)
    return duty


@dataclass(frozen=True)
class UnitReportStats:
    unit: str
    on_time: int
    late: int
    missing: int
    pending: int


async def report_stats(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime, unit: str | None = None
) -> list[UnitReportStats]:
    """For duties falling due in [start, end): on time, late, missing (overdue), pending."""
    query = (
        select(IncidentRow.unit_id, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(
            ReportDutyRow.due_at >= start,
            ReportDutyRow.due_at < end,
            ReportDutyRow.state != DutyState.cancelled,
        )
    )
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    counts: dict[str, list[int]] = {}
    for unit_id, duty in (await session.execute(query)).all():
        bucket = counts.setdefault(unit_id, [0, 0, 0, 0])
        if duty.state == DutyState.submitted:
            bucket[1 if duty.late else 0] += 1
        elif duty.due_at <= now:
            bucket[2] += 1
        else:
            bucket[3] += 1
    return [UnitReportStats(u, *c) for u, c in sorted(counts.items())]


async def open_duties(
    session: AsyncSession, *, now: datetime, overdue_only: bool, unit: str | None = None
) -> list[tuple[IncidentRow, ReportDutyRow]]:
    query = (
        select(IncidentRow, ReportDutyRow)
        .join(IncidentRow, IncidentRow.id == ReportDutyRow.incident_id)
        .where(ReportDutyRow.state == DutyState.open)
        .order_by(ReportDutyRow.due_at)
    )
    if overdue_only:
        query = query.where(ReportDutyRow.due_at <= now)
    if unit is not None:
        query = query.where(IncidentRow.unit_id == unit)
    return [(i, d) for i, d in (await session.execute(query)).all()]
