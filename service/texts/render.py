"""Text for people, from Jinja2 templates in Chinese and English.

Built-in templates live in `texts/templates/`, one file per message, channel and
language (`<name>.<channel>.<language>.j2`); a plan may override the escalation texts
(`plans.templates`) with text using the same variables.
"""

from __future__ import annotations

from functools import cache, lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

EMAIL_SUBJECT_CHARS = 80


def email_subject(body: str) -> str:
    """A mail's subject when its text has none of its own: the first line of the body."""
    lines = body.strip().splitlines()
    return lines[0][:EMAIL_SUBJECT_CHARS] if lines else ""


@cache
def template_environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.texts", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
    )


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A plan's template text, compiled once: compiling costs a hundred times rendering."""
    return template_environment().from_string(source)


def render(name: str, values: dict[str, object], *, override: str | None = None) -> str:
    """The built-in template `name`, or `override` (template text) in its place."""
    template = (
        _compiled(override) if override is not None else template_environment().get_template(name)
    )
    return template.render(values).strip()


def render_plain(template: str, language: str, values: dict[str, object]) -> str:
    """A short message from `<template>.sms.<language>.j2` (reminders, warnings)."""
    return render(f"{template}.sms.{language}.j2", values)
