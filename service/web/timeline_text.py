"""Timeline entries as the console says them: one sentence per kind in the viewer's
language, from `timeline_text.yaml` over the entry's `data`.

An entry stores an English summary for the CLI and the API, and the facts of it in
`data`; the console says the facts in the viewer's language. An entry the sentences
cannot say (a kind without one, or data written before the keys a sentence needs were
kept) shows its stored summary: never an error, never a blank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, StrictUndefined, Template, UndefinedError, pass_context
from jinja2.runtime import Context

from service.catalog import CATEGORY_NAMES, LEVEL_NAMES, Category, Level
from service.incidents.models import TimelineEntry
from service.plans.casualty_levels import FIGURE_NAMES
from service.texts.words import spoken_duration
from service.web.render import labels

HERE = Path(__file__).parent
LANGUAGES = ("zh", "en")
# How the lines of a template join: Chinese runs on, English has words.
_JOINER = {"zh": "", "en": " "}
_SPACE_BEFORE = re.compile(r"\s+([:;,.)])")
_SPACE_AFTER = re.compile(r"\(\s+")
# What a sentence raises when the data does not fit it: a key it lacks (StrictUndefined,
# a missing dict key or word), or a value of the wrong kind (an unknown level, not a time).
_DOES_NOT_FIT = (UndefinedError, LookupError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class Scene:
    """What a sentence names beyond its entry: the roster's people and units by id, and
    the clock of the incident's unit."""

    people: Mapping[str, str]
    units: Mapping[str, str]
    zone: ZoneInfo


@cache
def texts() -> dict[str, Any]:
    return yaml.safe_load((HERE / "timeline_text.yaml").read_text(encoding="utf-8"))


def kinds() -> set[str]:
    """Every kind of timeline entry the console has sentences for."""
    return set(texts()["kinds"])


def _language(context: Context) -> str:
    return str(context["_language"])


def _scene(context: Context) -> Scene:
    scene = context["_scene"]
    assert isinstance(scene, Scene)
    return scene


def word(context: Context, key: str) -> str:
    return str(texts()["words"][key][_language(context)])


def _label(key: str, language: str) -> str:
    return str(labels()[key][language])  # an unknown key raises: the summary is shown


def level(context: Context, value: str) -> str:
    """IV级（一般） / level IV (general)."""
    name = LEVEL_NAMES[Level(value)][_language(context)]
    return f"{value}级（{name}）" if _language(context) == "zh" else f"level {value} ({name})"


def people(context: Context, ids: Iterable[str]) -> str:
    names = [_scene(context).people.get(i, i) for i in ids]
    if not names:
        return word(context, "nobody")
    return ("、" if _language(context) == "zh" else ", ").join(names)


def when(context: Context, at: str) -> str:
    """An ISO time on the incident's clock, as the report duties show theirs."""
    return datetime.fromisoformat(at).astimezone(_scene(context).zone).strftime("%m-%d %H:%M")


def _filters() -> dict[str, Callable[..., Any]]:
    plain: dict[str, Callable[[Context, Any], Any]] = {
        "level": level,
        "category": lambda c, v: CATEGORY_NAMES[Category(v)][_language(c)],
        "event_type": lambda c, v: _label(f"type.{v}", _language(c)),
        "status": lambda c, v: _label(f"status.{v}", _language(c)),
        "unit": lambda c, v: _scene(c).units.get(v, v),
        "person": lambda c, v: _scene(c).people.get(v, v),
        "people": people,
        "when": when,
        "duration": lambda c, v: spoken_duration(timedelta(seconds=int(v)), _language(c)),
        "pick": lambda c, v: str(v[_language(c)]),
        "figure": lambda c, v: FIGURE_NAMES[v][_language(c)],
        "word": word,
    }
    filters: dict[str, Callable[..., Any]] = {name: pass_context(f) for name, f in plain.items()}
    filters["words"] = pass_context(
        lambda c, values, prefix: [word(c, f"{prefix}{v}") for v in values]
    )
    return filters


@cache
def _environment() -> Environment:
    # Autoescape off: the sentence is text, escaped where the page puts it.
    env = Environment(undefined=StrictUndefined, autoescape=False)
    env.filters.update(_filters())
    return env


def _one_line(source: str, language: str) -> str:
    return _JOINER[language].join(line.strip() for line in source.splitlines())


@cache
def template(kind: str, language: str) -> Template | None:
    sentences = texts()["kinds"].get(kind) or {}
    if language not in sentences:
        return None
    source = texts()["macros"][language] + sentences[language]
    return _environment().from_string(_one_line(source, language))


def sentence(entry: TimelineEntry, language: str, scene: Scene) -> str:
    """What the entry says in `language`; its stored summary if no sentence fits it."""
    found = template(entry.kind, language)
    if found is None:
        return entry.summary
    values = {
        **entry.data,
        "actor": scene.people.get(entry.actor, entry.actor),
        "_language": language,
        "_scene": scene,
    }
    try:
        text = found.render(values).strip()
    except _DOES_NOT_FIT:
        return entry.summary
    if language == "en":
        text = _SPACE_AFTER.sub("(", _SPACE_BEFORE.sub(r"\1", re.sub(r"\s+", " ", text)))
    return text or entry.summary
