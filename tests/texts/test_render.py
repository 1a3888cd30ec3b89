"""Text for people: built-in templates in both languages and a plan's own wording."""

from __future__ import annotations

from service.catalog import Channel
from service.plans.models import Templates
from service.plans.templates import ESCALATION_VARIABLES, EscalationText, render_escalation
from service.texts.render import render_plain

TEXT = EscalationText(
    incident_id=7,
    title="青山河水位超警戒",
    level="II",
    level_name="重大",
    category_name="自然灾害",
    event_type="flood",
    unit_name="青山县",
    location=None,
    description="",
    learned_at="2026-07-15 10:00",
    plan_title="青山县防汛应急预案",
    person_name="孙丽",
    step_number=1,
    step_count=3,
    round=0,
)


def test_sms_has_no_subject_and_mail_has_one_in_each_language() -> None:
    """SMS and voice bodies only; mail a subject and a body; both languages name the case."""
    for language in ("zh", "en"):
        subject, body = render_escalation(Channel.sms, language, TEXT)
        assert subject == "" and "#7" in body and "青山河水位超警戒" in body
        subject, body = render_escalation(Channel.email, language, TEXT)
        assert subject and "青山河水位超警戒" in subject + body


def test_a_plans_template_replaces_the_built_in_one() -> None:
    """A plan's SMS wording, with the same variables, is used instead of the built-in."""
    overrides = Templates.model_validate(
        {"sms": {"zh": "【{{ unit_name }}】{{ title }}，请回复1确认", "en": "{{ title }}"}}
    )
    _, body = render_escalation(Channel.sms, "zh", TEXT, overrides)
    assert body == "【青山县】青山河水位超警戒，请回复1确认"
    assert set(vars(TEXT)) == set(ESCALATION_VARIABLES)


def test_plain_messages_render_in_the_persons_language() -> None:
    """The unreachable alert names the person and the incident, in Chinese and English."""
    values = {"person_name": "孙丽", "incident_id": 7}
    assert "孙丽" in render_plain("unreachable", "zh", values) and "#7" in render_plain(
        "unreachable", "zh", values
    )
    assert render_plain("unreachable", "en", values).startswith("[UNREACHABLE]")
