"""Report duties in the database: created with the incident, advanced by the engine, submitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.durations import format_duration
from service.errors import Conflict, InvalidInput, NotFound
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.plans.models import ResolvedPlan
from service.plans.targets import describe_target, resolve_targets
from service.reports.duties import (
    DutySpec,
    ReportKind,
    duty_key,
    hops_after,
    opening_duties,
)
from service.reports.names import duty_facts, duty_name, duty_names, hop_names, local_time
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.roster.roster import Roster


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
        hop=spec.hop,
        names=hop_names(roster, spec.rule.to[0], incident.unit_id) if spec.hop else None,
        responsible_id=responsible[0].id if responsible else None,
        responsible_desc=(
            f"{responsible[0].name}（{office}）" if responsible else f"无人（{office}）"
        ),
        recipients=[describe_target(roster, t, incident.unit_id, "zh") for t in spec.rule.to],
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
    skip: frozenset[str] = frozenset(),
    reached: frozenset[str] = frozenset(),
    followup_number: int = 1,
) -> list[ReportDutyRow]:
    """The report duties the plan's rules for the incident's level owe, with deadlines
    counted from `learned_at`: when the office learned of the event, or (for the duties a
    re-plan opens) of its new level; by default the incident's own `learned_at`. Duties
    whose key (`duty_key`) is in `skip` are not opened again; `reached` are the hops
    already reported, whose next hops are owed."""
    rules = plan.rules(Level(incident.level))
    zone = roster.unit(incident.unit_id).zone
    rows = []
    for spec in opening_duties(rules.reports, learned_at or incident.learned_at, zone, reached):
        if spec.key in skip:
            continue
        if spec.kind is ReportKind.followup:
            spec = DutySpec(spec.kind, followup_number, spec.rule, spec.due_at)
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
    note_duties_due(session, roster, incident, rows, now=now)
    return rows


def note_duties_due(
    session: AsyncSession,
    roster: Roster,
    incident: IncidentRow,
    rows: list[ReportDutyRow],
    *,
    now: datetime,
    why: str = "",
    cause: dict[str, Any] | None = None,
) -> None:
    """The duties just opened, on the timeline; `cause` is `why` as facts."""
    if not rows:
        return
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="reports_due",
        summary=why
        + "reports due: "
        + "; ".join(
            f"{duty_name(r, 'en')} by {local_time(roster, incident, r.due_at)}, "
            f"responsible {r.responsible_desc}"
            for r in rows
        ),
        data={"duties": [duty_facts(r) for r in rows], **(cause or {})},
    )


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


async def submitted_keys(session: AsyncSession, incident_id: int) -> set[str]:
    """The duties made (by `duty_key`): a re-plan does not ask for them again. Follow-ups
    are not among them: they recur, and the new level's cadence applies."""
    rows = await session.execute(
        select(ReportDutyRow.kind, ReportDutyRow.hop).where(
            ReportDutyRow.incident_id == incident_id,
            ReportDutyRow.state == DutyState.submitted,
            ReportDutyRow.kind != ReportKind.followup.value,
        )
    )
    return {duty_key(kind, hop) for kind, hop in rows.all()}


async def followups_counted(session: AsyncSession, incident_id: int) -> int:
    """Follow-ups made, missed or still owed so far: the next one's number is one more."""
    count = await session.scalar(
        select(func.count())
        .select_from(ReportDutyRow)
        .where(
            ReportDutyRow.incident_id == incident_id,
            ReportDutyRow.kind == ReportKind.followup.value,
            ReportDutyRow.state != DutyState.cancelled,
        )
    )
    return int(count or 0)


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
    hop: str | None = None,
) -> ReportDutyRow:
    """Record a report; it closes the oldest open duty of that kind (of that hop, for a
    reporting chain, if named). A late one stays late. A hop's report tells the next
    office up, whose own deadline starts now."""
    if not content.strip():
        raise InvalidInput("a report needs content", field="content")
    query = (
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
    if hop is not None:
        query = query.where(ReportDutyRow.hop == hop)
    duty = await session.scalar(query)
    if duty is None:
        if kind is not ReportKind.supplement:
            which = f" to hop {hop!r}" if hop else ""
            raise InvalidInput(
                f"no {kind.value} report{which} is due for incident {incident.id}", field="kind"
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
        data={
            **duty_facts(duty),
            "late": duty.late,
            "late_seconds": max(0, int((now - duty.due_at).total_seconds())),
        },
    )
    if duty.hop is not None:
        open_next_hops(session, roster, plan, incident, duty, now=now)
    return duty


def open_next_hops(
    session: AsyncSession,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    reported: ReportDutyRow,
    *,
    now: datetime,
) -> list[ReportDutyRow]:
    """The office a hop reported to has learned of the event now: its own report up the
    chain is owed from now, by its own deadline."""
    assert reported.hop is not None
    reports = plan.rules(Level(incident.level)).reports
    rows = [
        create_duty(
            session,
            roster,
            plan,
            incident,
            DutySpec(ReportKind.hop, sequence, hop, now + hop.deadline, hop.id),
            generation=reported.generation,
            now=now,
        )
        for sequence, hop in hops_after(reports, reported.hop)
    ]
    note_duties_due(
        session,
        roster,
        incident,
        rows,
        now=now,
        why=f"{duty_name(reported, 'en')} made: that office learned of it now; ",
        cause={"after_hop": reported.hop, "reported": duty_names(reported)},
    )
    return rows


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


async def explain_lateness(session: AsyncSession, duty_id: int, explanation: str) -> ReportDutyRow:
    """Record why a report was late or missing (only such a report has one to give)."""
    duty = await session.get(ReportDutyRow, duty_id, with_for_update=True)
    if duty is None:
        raise NotFound("report duty", duty_id)
    if not duty.late and duty.state != DutyState.missing:
        raise Conflict(f"report duty {duty_id} was neither late nor missing: nothing to explain")
    duty.late_explanation = explanation
    return duty
