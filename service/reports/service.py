"""Report duties in the database: created with the incident, advanced by the engine, submitted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.durations import format_duration
from service.errors import InvalidInput
from service.incidents.models import DutyView
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.plans.models import FollowUps, ResolvedPlan
from service.plans.targets import describe_target, resolve_targets
from service.reports.duties import (
    REPORT_NAMES,
    DutySpec,
    ReportKind,
    describe_targets,
    followup_owed_after,
    opening_duties,
)
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.roster.roster import Roster
from service.texts.words import chinese_number


def local_time(roster: Roster, incident: IncidentRow, at: datetime) -> str:
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
    # Who answers for it, as the office writes it: 曹宇（河西县人民政府值班室值班员）.
    office = describe_target(roster, spec.rule.responsible, incident.unit_id, "zh")
    row = ReportDutyRow(
        incident_id=incident.id,
        generation=generation,
        kind=spec.kind.value,
        sequence=spec.sequence,
        responsible_id=responsible[0].id if responsible else None,
        responsible_desc=(
            f"{responsible[0].name}（{office}）" if responsible else f"无人（{office}）"
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
    learned_at: datetime | None = None,
    skip_kinds: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[ReportDutyRow]:
    """The report duties the plan's rules for the incident's level owe, with deadlines
    counted from `learned_at`: when the office learned of the event, or (for the duties a
    re-plan opens) of its new level; by default the incident's own `learned_at`."""
    rules = plan.rules(Level(incident.level))
    zone = roster.unit(incident.unit_id).zone
    rows = []
    for spec in opening_duties(rules.reports, learned_at or incident.learned_at, zone):
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
                f"{REPORT_NAMES[ReportKind(r.kind)]['en']} by "
                f"{local_time(roster, incident, r.due_at)}"
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
        followup_owed_after(rule, previous.due_at, now, zone),
    )
    return create_duty(
        session, roster, plan, incident, spec, generation=previous.generation, now=now
    )


def duty_name(duty: ReportDutyRow, language: str) -> str:
    """初报, 续报二, 终报 / initial report, follow-up report 2, final report."""
    name = REPORT_NAMES[ReportKind(duty.kind)][language]
    if duty.kind != ReportKind.followup:
        return name
    if language == "zh":
        return f"{name}{chinese_number(duty.sequence)}"
    return f"{name} {duty.sequence}"


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
        rules = plan.rules(Level(incident.level)).reports
        window, anchor_name = rules.supplement_window, rules.supplement_from
        anchor = {
            "occurred": incident.occurred_at or incident.learned_at,
            "learned": incident.learned_at,
            "resolved": incident.resolved_at,
        }[anchor_name]
        if window and anchor and now > anchor + window:
            since = {"occurred": "the event", "learned": "it was learned of"}.get(
                anchor_name, "resolution"
            )
            raise InvalidInput(
                f"the supplement window ({format_duration(window)} after {since}) has passed",
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
        summary=f"{duty_name(duty, 'en')} submitted by {actor}{lateness}",
        data={"duty": duty.id, "kind": duty.kind, "late": duty.late},
    )
    if kind is ReportKind.followup:
        await schedule_next_followup(session, roster, plan, incident, duty, now)
    return duty


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
                data={"duty": duty.id, "kind": duty.kind, "responsible": duty.responsible_id},
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
                data={"duty": duty.id, "kind": duty.kind},
            )
    return missing, cancelled


async def withdraw_for_replan(session: AsyncSession, *, incident_id: int) -> set[str]:
    """Before a re-plan: open duties not yet late are withdrawn (the new plan sets its
    own deadlines); returns the kinds the new plan must not open again: those already
    submitted, and those already late (a late report stays owed). The final report, owed
    once resolved, is kept."""
    keep = await submitted_kinds(session, incident_id)
    open_rows = await session.scalars(
        select(ReportDutyRow).where(
            ReportDutyRow.incident_id == incident_id, ReportDutyRow.state == DutyState.open
        )
    )
    for duty in open_rows.all():
        if duty.late:
            keep.add(duty.kind)
        elif duty.kind != ReportKind.final:
            duty.state, duty.next_at = DutyState.cancelled, None
    return keep


def open_final_duty(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    *,
    now: datetime,
) -> ReportDutyRow | None:
    """Once resolved: the final report (终报), if the plan asks for one."""
    final = plan.rules(Level(incident.level)).reports.final
    if final is None:
        return None
    return create_duty(
        session,
        roster,
        plan,
        incident,
        DutySpec(ReportKind.final, 1, final, now + final.deadline),
        generation=incident.escalation_generation,
        now=now,
    )


async def duties_for_incident(session: AsyncSession, incident_id: int) -> list[ReportDutyRow]:
    rows = await session.scalars(
        select(ReportDutyRow)
        .where(ReportDutyRow.incident_id == incident_id)
        .order_by(ReportDutyRow.due_at, ReportDutyRow.id)
    )
    return list(rows)


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
