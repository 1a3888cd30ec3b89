"""A drill (演练): any plan run for real — deadlines, escalation, SMS, email, voice — as a
drill incident whose every message is marked, played by the real roster or by stand-ins,
kept out of the real figures; ended; and reported step by step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import EVENT_TYPES, Category, category_of
from service.drills import service as drills
from service.drills.models import DrillReport, DrillStart, ReportLine
from service.drills.report import (
    DutyFact,
    GapFact,
    MessageFact,
    StepFact,
    acknowledgement_line,
    duty_lines,
    gap_lines,
    message_lines,
    step_lines,
)
from service.drills.tables import DrillRow
from service.errors import InvalidInput
from service.escalation.tables import EscalationStepRow, StepKind
from service.flows.incidents import Drilled, report_incident, set_status
from service.incidents.models import OPEN_STATUSES, IncidentReport, IncidentStatus
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.incidents.timeline import add_entry
from service.notify.tables import MessageRow
from service.plans.loader import PlanSet
from service.reports.duties import REPORT_NAMES, ReportKind
from service.reports.tables import ReportDutyRow
from service.roster.roster import Roster
from service.texts.words import role_label

GAP_KINDS = ("coverage_gap", "no_contact")


def _what_is_drilled(plans: PlanSet, start: DrillStart) -> tuple[Category, str, str]:
    """The category, event type and plan title of the drill's incident."""
    loaded = plans.get(start.plan)
    if loaded is None:
        known = ", ".join(sorted(p.plan.id for p in plans.plans))
        raise InvalidInput(f"no plan {start.plan!r} is loaded (plans: {known})", field="plan")
    scope = loaded.plan.scope
    if start.event_type is not None:
        event_type = start.event_type
    elif scope.event_types:
        event_type = scope.event_types[0]
    elif scope.categories:
        event_type = EVENT_TYPES[scope.categories[0]][0]
    else:
        raise InvalidInput(
            f"plan {start.plan} covers every category: name the event type to drill",
            field="event_type",
        )
    category = category_of(event_type)
    if category is None:
        raise InvalidInput(f"unknown event type {event_type!r}", field="event_type")
    if (scope.event_types and event_type not in scope.event_types) or (
        scope.categories and category not in scope.categories
    ):
        raise InvalidInput(
            f"plan {start.plan} does not cover {category.value}/{event_type}", field="event_type"
        )
    return category, event_type, loaded.plan.title


def drill_roster(roster: Roster, stand_ins: dict[str, str]) -> Roster:
    """The roster as the drill plays it."""
    if not stand_ins:
        return roster
    roles = roster.role_names
    for role in stand_ins:
        if role not in roles:
            raise InvalidInput(
                f"unknown role {role!r} in the drill roster; roles: {', '.join(sorted(roles))}",
                field=f"stand_ins.{role}",
            )
    return roster.with_stand_ins(stand_ins)


async def start_drill(
    session: AsyncSession,
    start: DrillStart,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
) -> tuple[DrillRow, IncidentRow]:
    category, event_type, plan_title = _what_is_drilled(plans, start)
    roster.unit(start.unit)
    played = drill_roster(roster, start.stand_ins)
    title = start.title or f"{plan_title}演练"
    drill = drills.record_drill(
        session,
        start,
        category=category,
        event_type=event_type,
        title=title,
        actor=actor,
        now=now,
    )
    await session.flush()
    report = IncidentReport(
        category=category,
        event_type=event_type,
        level=start.level,
        unit=start.unit,
        title=title,
        description=start.scenario,
        reporter=actor,
    )
    incident, _ = await report_incident(
        session,
        report,
        roster=played,
        plans=plans,
        reporter=actor,
        now=now,
        worker=worker,
        drill=Drilled(drill_id=drill.id, plan_id=start.plan),
    )
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="drill_started",
        actor=actor,
        summary=f"drill {drill.id} of plan {start.plan} at level {start.level.value} started; "
        "every message marked as a drill, kept out of the figures",
        data={
            "drill": drill.id,
            "plan": start.plan,
            "level": start.level.value,
            "stand_ins": [
                {
                    "role_name": {lang: role_label(role, lang) for lang in ("zh", "en")},
                    "person": person,
                }
                for role, person in start.stand_ins.items()
            ],
        },
    )
    return drill, incident


async def drill_incident(session: AsyncSession, drill_id: int) -> IncidentRow | None:
    return await session.scalar(
        select(IncidentRow).where(IncidentRow.drill_id == drill_id).order_by(IncidentRow.id)
    )


async def end_drill(
    session: AsyncSession,
    drill_id: int,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
) -> DrillRow:
    """The drill is over: its incident resolved (what is still queued is withdrawn, its
    steps stop), the drill closed."""
    drill = await drills.get_drill(session, drill_id, lock=True)
    drills.end_drill(drill, actor=actor, now=now)
    incident = await drill_incident(session, drill_id)
    if incident is None:
        return drill
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="drill_ended",
        actor=actor,
        summary=f"drill {drill.id} ended",
        data={"drill": drill.id},
    )
    if incident.status in OPEN_STATUSES:
        await set_status(
            session,
            roster=roster,
            plans=plans,
            incident_id=incident.id,
            status=IncidentStatus.resolved,
            note="drill ended",
            actor=actor,
            now=now,
        )
    return drill


def _step_label(step: EscalationStepRow, language: str) -> str:
    kind = step.kind or StepKind.step
    if kind == StepKind.unanswered_alert:
        return "无人确认告警" if language == "zh" else "nobody answered: alert"
    if kind == StepKind.ack_timeout:
        return "确认超时" if language == "zh" else "acknowledgement lapsed"
    if language == "zh":
        return f"第{step.step_index + 1}步" + (f"（第{step.round + 1}轮）" if step.round else "")
    return f"step {step.step_index + 1}" + (f" (round {step.round + 1})" if step.round else "")


async def drill_report(
    session: AsyncSession, drill_id: int, *, roster: Roster, language: str, now: datetime
) -> DrillReport:
    """What the plan asked for and what happened, line by line."""
    drill = await drills.get_drill(session, drill_id)
    unit = roster.units.get(drill.unit_id)
    incident = await drill_incident(session, drill_id)
    lines: list[ReportLine] = []
    if incident is not None:
        lines = await _lines(session, incident, roster=roster, language=language, now=now)
    return DrillReport(
        drill_id=drill.id,
        title=drill.title,
        plan_id=drill.plan_id,
        level=drill.level,
        unit=unit.name if unit else drill.unit_id,
        timezone=unit.timezone if unit else "Asia/Shanghai",
        incident_id=incident.id if incident else None,
        started_at=drill.started_at,
        ended_at=drill.ended_at,
        lines=lines,
    )


def _name(roster: Roster, person_id: str | None) -> str:
    if not person_id:
        return ""
    person = roster.people.get(person_id)
    return person.name if person else person_id


async def _lines(
    session: AsyncSession, incident: IncidentRow, *, roster: Roster, language: str, now: datetime
) -> list[ReportLine]:
    steps = list(
        await session.scalars(
            select(EscalationStepRow)
            .where(EscalationStepRow.incident_id == incident.id)
            .order_by(EscalationStepRow.due_at, EscalationStepRow.id)
        )
    )
    messages = list(
        await session.scalars(
            select(MessageRow).where(MessageRow.incident_id == incident.id).order_by(MessageRow.id)
        )
    )
    duties = list(
        await session.scalars(
            select(ReportDutyRow)
            .where(ReportDutyRow.incident_id == incident.id)
            .order_by(ReportDutyRow.due_at, ReportDutyRow.id)
        )
    )
    gaps = list(
        await session.scalars(
            select(TimelineEntryRow)
            .where(
                TimelineEntryRow.incident_id == incident.id,
                TimelineEntryRow.kind.in_(GAP_KINDS),
            )
            .order_by(TimelineEntryRow.id)
        )
    )
    # The plan expects an answer before its chain would go on past the first step.
    later = [s.due_at for s in steps if (s.kind or StepKind.step) == StepKind.step and s.step_index]
    return [
        *step_lines(
            [StepFact(_step_label(s, language), s.due_at, s.fired_at, s.state) for s in steps],
            now,
        ),
        acknowledgement_line(
            acknowledged_at=incident.acknowledged_at,
            acknowledged_by=_name(roster, incident.acknowledged_by),
            expected_by=min(later) if later else None,
            now=now,
        ),
        *message_lines(
            [
                MessageFact(
                    person=_name(roster, m.person_id),
                    channel=m.channel,
                    queued_at=m.created_at,
                    sent_at=m.sent_at,
                    delivered_at=m.delivered_at,
                    state=m.state,
                    error=m.error if m.state == "failed" else None,
                )
                for m in messages
            ]
        ),
        *duty_lines(
            [
                DutyFact(
                    label=REPORT_NAMES[ReportKind(d.kind)][language]
                    + (f" {d.sequence}" if d.sequence > 1 else ""),
                    responsible=_name(roster, d.responsible_id) or d.responsible_desc,
                    due_at=d.due_at,
                    submitted_at=d.submitted_at,
                    state=d.state,
                    late=d.late,
                )
                for d in duties
            ],
            now,
        ),
        *gap_lines([GapFact(at=g.at, what=g.summary) for g in gaps]),
    ]
