"""Text for people, from Jinja2 templates in Chinese and English.

Built-in templates live in `notify/templates/`; a plan may override any of them
(`templates:` in the plan language) with text using the same variables.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache, lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from service.catalog import Channel
from service.plans.models import Templates


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


@cache
def template_environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.notify", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
    )


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A plan's template text, compiled once: compiling costs a hundred times rendering."""
    return template_environment().from_string(source)


def _render(name: str, override: str | None, values: dict[str, object]) -> str:
    env = template_environment()
    template = _compiled(override) if override is not None else env.get_template(name)
    return template.render(values).strip()


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
        return "", _render(f"escalation.sms.{language}.j2", pick("sms"), values)
    subject = _render(f"escalation.subject.{language}.j2", pick("email_subject"), values)
    body = _render(f"escalation.email.{language}.j2", pick("email_body"), values)
    return subject, body


def render_unanswered(channel: Channel, language: str, text: EscalationText) -> tuple[str, str]:
    """The alert to the duty office when a whole escalation chain went unanswered."""
    body = _render(f"unanswered.sms.{language}.j2", None, dict(vars(text)))
    return ("" if channel in (Channel.sms, Channel.voice) else body[:120]), body


def render_plain(template: str, language: str, values: dict[str, object]) -> str:
    """A short message from `<template>.sms.<language>.j2` (reminders, warnings)."""
    return _render(f"{template}.sms.{language}.j2", None, values)
