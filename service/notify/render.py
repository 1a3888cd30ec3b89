"""Text for people, from Jinja2 templates in Chinese and English."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from service.catalog import Channel


@dataclass(frozen=True)
class EscalationText:
    """The variables an escalation template may use; a template using another fails."""

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


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.notify", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=False,
    )


def render_escalation(channel: Channel, language: str, text: EscalationText) -> tuple[str, str]:
    """Return (subject, body) for one recipient; SMS has no subject."""
    env = _environment()
    values = asdict(text)
    body = env.get_template(f"escalation.{channel.value}.{language}.j2").render(values).strip()
    if channel is Channel.sms:
        return "", body
    subject = env.get_template(f"escalation.subject.{language}.j2").render(values).strip()
    return subject, body
