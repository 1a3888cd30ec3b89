"""Fire one escalation step inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import CATEGORY_NAMES, LEVEL_NAMES, Category, Level
from service.escalation.steps import Position, next_position, resolve_step
from service.escalation.tables import EscalationStepRow, StepState
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.render import EscalationText, render_escalation
from service.notify.tables import MessageRow, MessageState
from service.plans.models import Plan
from service.roster.roster import Roster


def fire_step(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: Plan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[MessageRow]:
    """Queue the step's messages, mark it fired and schedule the next step, all in one go."""
    level = Level(incident.level)
    escalation = plan.escalation_for(level)
    if escalation is None:  # the loader refuses such plans; an archived one may predate that
        raise LookupError(f"plan {plan.id} has no escalation for level {level.value}")
    step = escalation.steps[step_row.step_index]
    recipients = resolve_step(
        roster, targets=step.notify, channels=step.channels, incident_unit=incident.unit_id, at=now
    )
    step_label = f"step {step_row.step_index + 1}/{len(escalation.steps)}"
    if step_row.round:
        step_label += f" (round {step_row.round + 1})"

    for target in recipients.uncovered:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="coverage_gap",
            summary=f"{step_label}: nobody holds {target.describe()} at this time",
            data={"target": target.model_dump(exclude_none=True)},
        )
    for person, channel in recipients.unreachable:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="no_contact",
            summary=f"{step_label}: {person.name} has no {channel.value} contact",
            data={"person": person.id, "channel": channel.value},
        )

    unit = roster.units.get(incident.unit_id)
    zone = unit.zone if unit else None
    messages = []
    for delivery in recipients.deliveries:
        language = delivery.person.language
        text = EscalationText(
            incident_id=incident.id,
            title=incident.title,
            level=incident.level,
            level_name=LEVEL_NAMES[level][language],
            category_name=CATEGORY_NAMES[Category(incident.category)][language],
            event_type=incident.event_type,
            unit_name=unit.name if unit else incident.unit_id,
            location=incident.location,
            description=incident.description,
            learned_at=incident.learned_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            plan_title=plan.title,
            person_name=delivery.person.name,
            step_number=step_row.step_index + 1,
            step_count=len(escalation.steps),
            round=step_row.round,
        )
        subject, body = render_escalation(delivery.channel, language, text)
        message = MessageRow(
            incident_id=incident.id,
            escalation_step_id=step_row.id,
            person_id=delivery.person.id,
            channel=delivery.channel.value,
            address=delivery.address,
            subject=subject,
            body=body,
            state=MessageState.pending,
            due_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        messages.append(message)

    step_row.state = StepState.fired
    step_row.fired_at = now
    step_row.fired_by = worker
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="step_fired",
        summary=f"{step_label}: notifying {names} by {', '.join(c.value for c in step.channels)}",
        data={
            "step_index": step_row.step_index,
            "round": step_row.round,
            "people": [p.id for p in recipients.people],
            "messages": len(messages),
        },
    )

    following = next_position(escalation, Position(step_row.step_index, step_row.round))
    if following is None:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="escalation_exhausted",
            summary=f"{step_label} was the last step; no further escalation",
        )
    else:
        # A step that reached nobody does not make anyone wait for an answer.
        due = now + step.wait if messages else now
        session.add(
            EscalationStepRow(
                incident_id=incident.id,
                step_index=following.step_index,
                round=following.round,
                due_at=due,
                state=StepState.pending,
            )
        )
    return messages
