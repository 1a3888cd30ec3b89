"""Escalation texts: the variables a plan's templates may use, and rendering with them.

The built-in texts are `escalation.*` and `unanswered.*` in `texts/templates/`; a plan's
`templates:` replace them per channel and language (checked by the loader against
ESCALATION_VARIABLES).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from service.catalog import Channel
from service.plans.models import Templates
from service.texts.render import email_subject, render


@dataclass(frozen=True)
class EscalationText:
    """The variables an escalation template may use; a template using another is refused."""

    incident_id: int
    title: str
    level: str
    level_name: str
    category_name: str
    event_type: str
    unit_name: str
    location: str | None
    description: str
    learned_at: str
    plan_title: str
    person_name: str
    step_number: int
    step_count: int
    round: int


ESCALATION_VARIABLES = tuple(f.name for f in fields(EscalationText))


def render_escalation(
    channel: Channel, language: str, text: EscalationText, overrides: Templates | None = None
) -> tuple[str, str]:
    """Return (subject, body) for one recipient; SMS and voice have no subject."""
    overrides = overrides or Templates()
    values = dict(vars(text))  # flat fields: asdict's deep copy is a third of a render

    def pick(kind: str) -> str | None:
        localized = getattr(overrides, kind)
        return getattr(localized, language) if localized is not None else None

    if channel in (Channel.sms, Channel.voice):
        return "", render(f"escalation.sms.{language}.j2", values, override=pick("sms"))
    subject = render(f"escalation.subject.{language}.j2", values, override=pick("email_subject"))
    body = render(f"escalation.email.{language}.j2", values, override=pick("email_body"))
    return subject, body


def render_unanswered(channel: Channel, language: str, text: EscalationText) -> tuple[str, str]:
    """The alert to the duty office when a whole escalation chain went unanswered."""
    body = render(f"unanswered.sms.{language}.j2", dict(vars(text)))
    return ("" if channel in (Channel.sms, Channel.voice) else email_subject(body)), body
