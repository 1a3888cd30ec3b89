"""Pages from Jinja2 templates: the console's words in the viewer's language, times on
each unit's clocks, durations as officers write them."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.catalog import LEVEL_NAMES, Level
from service.texts.words import spoken_duration

HERE = Path(__file__).parent
# Warning colours of the levels: I red, II orange, III yellow, IV blue.
LEVEL_COLOURS = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}


@cache
def labels() -> dict[str, dict[str, str]]:
    return yaml.safe_load((HERE / "labels.yaml").read_text(encoding="utf-8"))


def label(key: str, language: str) -> str:
    words = labels().get(key)
    return words.get(language, words["zh"]) if words else key


def local_minute(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%m-%d %H:%M") if at else "—"


def iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def duration(value: timedelta, language: str) -> str:
    return spoken_duration(value, language)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(LEVEL_COLOURS=LEVEL_COLOURS, LEVEL_NAMES=LEVEL_NAMES, Level=Level)
    env.filters.update(iso=iso)
    return env


def page(template: str, language: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A whole page or a fragment, with `t(key)` for the console's words."""
    html = (
        environment()
        .get_template(template)
        .render(
            language=language,
            t=lambda key: label(key, language),
            when=local_minute,
            duration=lambda value: duration(value, language),
            **values,
        )
    )
    return HTMLResponse(html, status_code=status_code)
