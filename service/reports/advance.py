"""A report duty's next due action: a reminder before the deadline, the late record (迟报)
at it, then the plan's late escalation, step by step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.queue import queue_message, queue_to_person
from service.plans.models import ResolvedPlan
from service.plans.targets import describe_target, resolve_targets
from service.reports.duties import ReportKind, late_steps, rule_for
from service.reports.followups import schedule_next_followup
from service.reports.names import duty_facts, duty_name, local_time
from service.reports.tables import DutyPhase, ReportDutyRow
from service.roster.roster import Roster
from service.texts.render import email_subject, render_plain
from service.texts.words import spoken_duration


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
            rule = rule_for(plan.rules(Level(incident.level)).reports, duty.kind, duty.hop)
            told = [
                describe_target(roster, target, incident.unit_id, person.language)
                for target in (rule.to if rule is not None else [])
            ]
            text = render_plain(
                "report_reminder",
                person.language,
                {
                    "incident_id": incident.id,
                    "title": incident.title,
                    "report_name": duty_name(duty, person.language),
                    "due": local_time(roster, incident, duty.due_at),
                    "recipients": ("、" if person.language == "zh" else ", ").join(told),
                },
            )
            queue_to_person(session, person, text, now, incident_id=incident.id)
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="report_reminder",
            summary=f"reminded {duty.responsible_desc}: {duty_name(duty, 'en')} due "
            f"{local_time(roster, incident, duty.due_at)}",
            data=duty_facts(duty),
        )
        duty.phase, duty.next_at = DutyPhase.deadline, duty.due_at
        return
    if duty.phase == DutyPhase.deadline:
        duty.late, duty.late_recorded_at = True, now
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="report_late",
            summary=f"LATE (迟报): {duty_name(duty, 'en')} was due "
            f"{local_time(roster, incident, duty.due_at)}; responsible {duty.responsible_desc}",
            data={**duty_facts(duty), "responsible": duty.responsible_id},
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
    for delivery in recipients.deliveries:
        language = delivery.person.language
        body = render_plain(
            "late_report",
            language,
            {
                "incident_id": incident.id,
                "title": incident.title,
                "report_name": duty_name(duty, language),
                "due": local_time(roster, incident, duty.due_at),
                "delay": spoken_duration(now - duty.due_at, language),
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
            subject=email_subject(body) if delivery.channel.value == "email" else "",
        )
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="late_escalation",
        summary=f"late {duty_name(duty, 'en')}: told {names} (late step {duty.late_step + 1})",
        data={
            **duty_facts(duty),
            "people": [p.id for p in recipients.people],
            "late_step": duty.late_step + 1,
        },
    )
    duty.late_step += 1
    if duty.late_step < len(steps):
        duty.next_at = now + step.wait
    else:
        duty.phase, duty.next_at = DutyPhase.done, None
