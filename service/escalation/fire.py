"""Fire one escalation step, or the plan's notify-at-once rules, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import CATEGORY_NAMES, LEVEL_NAMES, Category, Channel, Level
from service.escalation.steps import Position, Recipients, next_position, resolve_targets
from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.queue import queue_message, queue_to_person
from service.notify.render import (
    EscalationText,
    render_escalation,
    render_plain,
    render_unanswered,
)
from service.notify.tables import MessageRow
from service.plans.models import AfterLast, ResolvedPlan, Target
from service.roster.models import Person
from service.roster.roster import Roster

Renderer = Callable[[Channel, str, EscalationText], tuple[str, str]]
DUTY_OFFICE = [Target(role="duty_officer", unit="top"), Target(role="leader_on_shift", unit="top")]


class _Context:
    """What every message of one incident needs, gathered once."""

    def __init__(
        self,
        session: AsyncSession,
        roster: Roster,
        plan: ResolvedPlan,
        incident: IncidentRow,
        now: datetime,
    ) -> None:
        self.session, self.roster, self.plan, self.incident, self.now = (
            session,
            roster,
            plan,
            incident,
            now,
        )
        self.level = Level(incident.level)
        self.rules = plan.rules(self.level)

    def note(self, kind: str, summary: str, **data: object) -> None:
        add_entry(
            self.session,
            incident_id=self.incident.id,
            at=self.now,
            kind=kind,
            summary=summary,
            data=dict(data),
        )

    def resolve(
        self,
        targets: list[Target],
        channels: list[Channel],
        label: str,
        exclude: set[str] | None = None,
    ) -> Recipients:
        recipients = resolve_targets(
            self.roster,
            targets=targets,
            groups=self.plan.groups,
            channels=channels,
            incident_unit=self.incident.unit_id,
            at=self.now,
            exclude=exclude,
        )
        for target in recipients.uncovered:
            self.note(
                "coverage_gap",
                f"{label}: nobody holds {target.describe()} at this time",
                target=target.model_dump(exclude_none=True),
            )
            self.tell_duty_office("coverage_gap", step=label, target=target.describe())
        for person, channel in recipients.unreachable:
            self.note(
                "no_contact",
                f"{label}: {person.name} has no {channel.value} contact",
                person=person.id,
                channel=channel.value,
            )
        return recipients

    def tell_duty_office(self, template: str, **values: object) -> None:
        """A short message to the duty officer of the top unit (the city's duty office)."""
        top = resolve_targets(
            self.roster,
            targets=[DUTY_OFFICE[0]],
            groups={},
            channels=[],
            incident_unit=self.incident.unit_id,
            at=self.now,
        )
        for person in top.people:
            body = render_plain(
                template,
                person.language,
                {"incident_id": self.incident.id, "title": self.incident.title, **values},
            )
            queue_to_person(self.session, person, body, self.now, incident_id=self.incident.id)

    def text(
        self, person: Person, step_number: int, step_count: int, round_: int
    ) -> EscalationText:
        language = person.language
        unit = self.roster.units.get(self.incident.unit_id)
        learned = self.incident.learned_at.astimezone(unit.zone if unit else None)
        return EscalationText(
            incident_id=self.incident.id,
            title=self.incident.title,
            level=self.incident.level,
            level_name=LEVEL_NAMES[self.level][language],
            category_name=CATEGORY_NAMES[Category(self.incident.category)][language],
            event_type=self.incident.event_type,
            unit_name=unit.name if unit else self.incident.unit_id,
            location=self.incident.location,
            description=self.incident.description,
            learned_at=learned.strftime("%Y-%m-%d %H:%M"),
            plan_title=self.plan.title,
            person_name=person.name,
            step_number=step_number,
            step_count=step_count,
            round=round_,
        )

    def queue(
        self,
        recipients: Recipients,
        render: Renderer,
        step_row_id: int | None,
        step_number: int,
        step_count: int,
        round_: int,
    ) -> list[MessageRow]:
        messages = []
        for delivery in recipients.deliveries:
            text = self.text(delivery.person, step_number, step_count, round_)
            subject, body = render(delivery.channel, delivery.person.language, text)
            messages.append(
                queue_message(
                    self.session,
                    person=delivery.person,
                    channel=delivery.channel,
                    address=delivery.address,
                    subject=subject,
                    body=body,
                    now=self.now,
                    incident_id=self.incident.id,
                    step_id=step_row_id,
                )
            )
        return messages


def fire_step(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[MessageRow]:
    """Queue the step's messages, mark it fired and schedule the next step, all in one go."""
    ctx = _Context(session, roster, plan, incident, now)
    step_row.state, step_row.fired_at, step_row.fired_by = StepState.fired, now, worker
    escalation = ctx.rules.escalation
    steps = escalation.flat_steps() if escalation else []
    if step_row.step_index >= len(steps):
        ctx.note("escalation_exhausted", "the plan has no such escalation step; nothing to do")
        return []
    assert escalation is not None
    step = steps[step_row.step_index]
    label = f"step {step_row.step_index + 1}/{len(steps)}"
    if step_row.round:
        label += f" (round {step_row.round + 1})"

    recipients = ctx.resolve(step.notify, step.channels, label)
    render = lambda ch, lang, text: render_escalation(ch, lang, text, ctx.rules.templates)  # noqa: E731
    messages = ctx.queue(
        recipients, render, step_row.id, step_row.step_index + 1, len(steps), step_row.round
    )
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    ctx.note(
        "step_fired",
        f"{label}: notifying {names} by {', '.join(c.value for c in step.channels)}",
        step_index=step_row.step_index,
        round=step_row.round,
        people=[p.id for p in recipients.people],
        messages=len(messages),
    )

    following = next_position(
        len(steps), escalation.repeat, Position(step_row.step_index, step_row.round)
    )
    if following is not None:
        # A step that reached nobody does not make anyone wait for an answer.
        session.add(
            EscalationStepRow(
                incident_id=incident.id,
                generation=step_row.generation,
                step_index=following.step_index,
                round=following.round,
                due_at=now + step.wait if messages else now,
                state=StepState.pending,
            )
        )
    else:
        ctx.note("escalation_exhausted", f"{label} was the last step; no further escalation")
        if escalation.after_last is AfterLast.alert_duty_office:
            # The alert goes out only after the last step's wait, via a step past the end.
            session.add(
                EscalationStepRow(
                    incident_id=incident.id,
                    generation=step_row.generation,
                    kind=StepKind.unanswered_alert,
                    step_index=len(steps),
                    round=step_row.round,
                    due_at=now + step.wait,
                    state=StepState.pending,
                )
            )
    return messages


def fire_unanswered_alert(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[MessageRow]:
    """Tell the top unit's duty office that a whole chain went unanswered."""
    ctx = _Context(session, roster, plan, incident, now)
    step_row.state, step_row.fired_at, step_row.fired_by = StepState.fired, now, worker
    recipients = ctx.resolve(DUTY_OFFICE, [Channel.sms, Channel.email], "unanswered alert")
    messages = ctx.queue(recipients, render_unanswered, step_row.id, 0, 0, step_row.round)
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    ctx.note(
        "unanswered_alert", f"nobody acknowledged after every step; duty office alerted: {names}"
    )
    return messages


def notify_at_once(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    now: datetime,
    already_told: set[str],
) -> list[MessageRow]:
    """The plan's notify-at-once rules, skipping people the first step already reached."""
    ctx = _Context(session, roster, plan, incident, now)
    render = lambda ch, lang, text: render_escalation(ch, lang, text, ctx.rules.templates)  # noqa: E731
    messages: list[MessageRow] = []
    told = set(already_told)
    for rule in ctx.rules.notify:
        recipients = ctx.resolve(rule.targets, rule.channels, "notify at once", exclude=told)
        told.update(p.id for p in recipients.people)
        messages += ctx.queue(recipients, render, None, 0, 0, 0)
        if recipients.people:
            ctx.note(
                "notified",
                "told at once: " + ", ".join(p.name for p in recipients.people),
                people=[p.id for p in recipients.people],
            )
    return messages


def fire_ack_timeout(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[MessageRow]:
    """Acknowledged but unresolved for too long: back to unacknowledged, the chain restarts."""
    step_row.state, step_row.fired_at, step_row.fired_by = StepState.fired, now, worker
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="ack_expired",
        summary=f"acknowledged by {incident.acknowledged_by} but not resolved in time: "
        "escalation starts again",
    )
    incident.acknowledged_at, incident.acknowledged_by = None, None
    incident.status = "reported"
    incident.escalation_generation += 1
    first = EscalationStepRow(
        incident_id=incident.id,
        generation=incident.escalation_generation,
        step_index=0,
        round=0,
        due_at=now,
        state=StepState.pending,
    )
    session.add(first)
    return fire_step(
        session, roster=roster, plan=plan, incident=incident, step_row=first, now=now, worker=worker
    )


HANDLERS = {
    StepKind.step: fire_step,
    StepKind.unanswered_alert: fire_unanswered_alert,
    StepKind.ack_timeout: fire_ack_timeout,
}


def fire(
    session: AsyncSession,
    *,
    roster: Roster,
    plan: ResolvedPlan,
    incident: IncidentRow,
    step_row: EscalationStepRow,
    now: datetime,
    worker: str,
) -> list[MessageRow]:
    """Fire whatever the row stands for: a chain step, the unanswered alert, an ack timeout."""
    return HANDLERS[step_row.kind or StepKind.step](
        session,
        roster=roster,
        plan=plan,
        incident=incident,
        step_row=step_row,
        now=now,
        worker=worker,
    )
