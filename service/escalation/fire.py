"""Fire one escalation step, or the plan's notify-at-once rules, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import CATEGORY_NAMES, LEVEL_NAMES, Category, Channel, Level
from service.escalation.chain import mark_fired
from service.escalation.steps import Position, next_position
from service.escalation.tables import EscalationStepRow, StepKind, StepState
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.queue import QueuedMessage, queue_message, tell_people
from service.plans.models import AfterLast, ResolvedPlan, Target
from service.plans.targets import Recipients, describe_target, reach_people, resolve_targets
from service.plans.templates import EscalationText, render_escalation, render_unanswered
from service.roster.models import Person
from service.roster.roster import Roster

Renderer = Callable[[Channel, str, EscalationText], tuple[str, str]]


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
        stage: dict[str, object],
        exclude: set[str] | None = None,
    ) -> Recipients:
        """Who the targets reach now; `stage` is `label` as facts, for the timeline."""
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
                target_name=self.target_names(target),
                **stage,
            )
            self.tell_duty_office("coverage_gap", step=label, target=target.describe())
        for person, channel in recipients.unreachable:
            self.note(
                "no_contact",
                f"{label}: {person.name} has no {channel.value} contact",
                person=person.id,
                channel=channel.value,
                person_name=person.name,
                **stage,
            )
        return recipients

    def target_names(self, target: Target) -> dict[str, str]:
        return {
            language: describe_target(self.roster, target, self.incident.unit_id, language)
            for language in ("zh", "en")
        }

    def tell_duty_office(self, template: str, **values: object) -> None:
        """A short message to the duty office above the incident's unit."""
        tell_people(
            self.session,
            self.roster.duty_office(self.now, self.incident.unit_id),
            template,
            {"incident_id": self.incident.id, "title": self.incident.title, **values},
            self.now,
            incident_id=self.incident.id,
        )

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
    ) -> list[QueuedMessage]:
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
) -> list[QueuedMessage]:
    """Queue the step's messages, mark it fired and schedule the next step, all in one go."""
    ctx = _Context(session, roster, plan, incident, now)
    mark_fired(step_row, now=now, worker=worker)
    escalation = ctx.rules.escalation
    steps = escalation.flat_steps() if escalation else []
    if step_row.step_index >= len(steps):
        ctx.note(
            "escalation_exhausted",
            "the plan has no such escalation step; nothing to do",
            cause="no_step",
            step_index=step_row.step_index,
        )
        return []
    assert escalation is not None
    step = steps[step_row.step_index]
    label = f"step {step_row.step_index + 1}/{len(steps)}"
    if step_row.round:
        label += f" (round {step_row.round + 1})"
    stage: dict[str, object] = {
        "stage": "step",
        "step_index": step_row.step_index,
        "steps": len(steps),
        "round": step_row.round,
    }

    recipients = ctx.resolve(step.notify, step.channels, label, stage)
    render = lambda ch, lang, text: render_escalation(ch, lang, text, ctx.rules.templates)  # noqa: E731
    messages = ctx.queue(
        recipients, render, step_row.id, step_row.step_index + 1, len(steps), step_row.round
    )
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    ctx.note(
        "step_fired",
        f"{label}: notifying {names} by {', '.join(c.value for c in step.channels)}",
        people=[p.id for p in recipients.people],
        messages=len(messages),
        channels=[c.value for c in step.channels],
        **stage,
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
        # The chain is spent only when the last step's wait runs out unanswered: a row
        # past the end wakes the engine then, to say so (and to alert the duty office,
        # if the plan says so). An acknowledgement before then cancels it.
        session.add(
            EscalationStepRow(
                incident_id=incident.id,
                generation=step_row.generation,
                kind=StepKind.unanswered_alert,
                step_index=len(steps),
                round=step_row.round,
                due_at=now + step.wait if messages else now,
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
) -> list[QueuedMessage]:
    """The last step's wait ran out unanswered: the chain is spent; the top unit's duty
    office is told, unless the plan says to stop."""
    ctx = _Context(session, roster, plan, incident, now)
    mark_fired(step_row, now=now, worker=worker)
    escalation = ctx.rules.escalation
    alert = escalation is None or escalation.after_last is AfterLast.alert_duty_office
    ctx.note(
        "escalation_exhausted",
        "the last step's wait ran out unanswered; no further escalation"
        + ("" if alert else " (the plan says stop)"),
        cause="unanswered",
        alert=alert,
    )
    if not alert:
        return []
    recipients = reach_people(
        roster.duty_office(now, incident.unit_id), [Channel.sms, Channel.email]
    )
    if not recipients.people:
        ctx.note(
            "coverage_gap",
            "unanswered alert: nobody holds the duty office at this time",
            stage="unanswered",
        )
    messages = ctx.queue(recipients, render_unanswered, step_row.id, 0, 0, step_row.round)
    names = ", ".join(p.name for p in recipients.people) or "nobody"
    ctx.note(
        "unanswered_alert",
        f"nobody acknowledged after every step; duty office alerted: {names}",
        people=[p.id for p in recipients.people],
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
) -> list[QueuedMessage]:
    """The plan's notify-at-once rules, skipping people the first step already reached."""
    ctx = _Context(session, roster, plan, incident, now)
    render = lambda ch, lang, text: render_escalation(ch, lang, text, ctx.rules.templates)  # noqa: E731
    messages: list[QueuedMessage] = []
    told = set(already_told)
    for rule in ctx.rules.notify:
        recipients = ctx.resolve(
            rule.targets, rule.channels, "notify at once", {"stage": "notify"}, exclude=told
        )
        told.update(p.id for p in recipients.people)
        messages += ctx.queue(recipients, render, None, 0, 0, 0)
        if recipients.people:
            ctx.note(
                "notified",
                "told at once: " + ", ".join(p.name for p in recipients.people),
                people=[p.id for p in recipients.people],
                channels=[c.value for c in rule.channels],
            )
    return messages
