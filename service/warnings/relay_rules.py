"""Relay from upstream: which producers dutyd takes CAP from (the weather bureau's feed,
or its pushes), and by which rule a message of theirs becomes a draft for review or a
warning relayed at once; and the plain mapping of an upstream CapAlert onto what dutyd
issues (`WarningContent`). No I/O here: `flows.warning_relay` does the rest.

The `relay:` section of `config/warnings.yaml`; see its sample there.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.catalog import Level
from service.warnings.hazards import HAZARDS
from service.warnings.models import (
    LEVEL_OF_COLOUR,
    SEVERITY_OF_COLOUR,
    Area,
    CapAlert,
    CapInfo,
    CapStatus,
    Colour,
    WarningContent,
)

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RANK = {Level.I: 1, Level.II: 2, Level.III: 3, Level.IV: 4}  # 1: the most severe
LEVEL_OF_SEVERITY = {severity: LEVEL_OF_COLOUR[c] for c, severity in SEVERITY_OF_COLOUR.items()}
# How producers write a colour: the parameter's value, or a word in the event's name.
COLOUR_WORDS: dict[str, Colour] = {
    **{c.value: c for c in Colour},
    "红色": Colour.red,
    "橙色": Colour.orange,
    "黄色": Colour.yellow,
    "蓝色": Colour.blue,
}
LEVEL_WORDS: dict[str, Level] = {
    **{level.value: level for level in Level},
    **{str(RANK[level]): level for level in Level},
    "Ⅰ": Level.I,
    "Ⅱ": Level.II,
    "Ⅲ": Level.III,
    "Ⅳ": Level.IV,
}
# Built in: each hazard's Chinese and English name (暴雨 → rainstorm).
BUILT_IN_EVENTS: dict[str, str] = {
    **{h.en: h.id for h in HAZARDS.values()},
    **{h.zh: h.id for h in HAZARDS.values()},
}


class RelaySource(BaseModel):
    """A producer dutyd takes CAP from."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, description="How dutyd names it: in the URL, the records.")
    sender: str = Field(
        min_length=3,
        max_length=160,
        description="The CAP `sender` every message of it carries (exact match); any other "
        "is refused.",
    )
    feed_url: str | None = Field(
        None,
        max_length=1000,
        pattern=r"^https?://",
        description="An Atom feed of links to its CAP documents, polled; none: pushes only.",
    )
    poll_seconds: int = Field(60, ge=10, le=86_400, description="How often the feed is read.")
    timeout_seconds: float = Field(10, gt=0, le=120, description="For each fetch of the feed.")
    cap_hosts: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Hosts the feed's CAP links may point to besides the feed's own host.",
    )
    token_name: str | None = Field(
        None,
        max_length=128,
        description="The API token (by name) that may POST its CAP to /api/v1/relay/<name>; "
        "none: no token may.",
    )


class RelayRule(BaseModel):
    """Which upstream messages dutyd issues, and how; the first rule that matches applies.
    Every condition left empty matches anything."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, description="Named in the records and the steps.")
    sources: list[str] = Field(default_factory=list, description="Source names; empty: any.")
    hazards: list[str] = Field(
        default_factory=list,
        description="dutyd hazard ids the upstream event maps to (e.g. rainstorm); empty: any.",
    )
    min_colour: Colour = Field(
        Colour.blue, description="The least severe colour it takes: red takes red only."
    )
    geocodes: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="GB/T 2260 code prefixes; the message matches if one of its area codes "
        "starts with one of them (3399 or 339901); empty: anywhere.",
    )
    narrow: bool = Field(
        True,
        description="With geocodes: issue only for the upstream codes under them (polygons "
        "and circles are then dropped, as they may reach past them); false: every area "
        "as the upstream drew it.",
    )
    statuses: list[CapStatus] = Field(
        default_factory=lambda: [CapStatus.Actual],
        description="CAP statuses it takes (Actual; Exercise for drills; Test).",
    )
    action: Literal["draft", "relay"] = Field(
        description="draft: a draft submitted for review; relay: published at once."
    )
    unit: str = Field(max_length=64, description="The unit of dutyd that issues it.")

    def matches(self, source: str, content: WarningContent) -> bool:
        if self.sources and source not in self.sources:
            return False
        if self.hazards and content.hazard not in self.hazards:
            return False
        if RANK[content.level] > RANK[LEVEL_OF_COLOUR[self.min_colour]]:
            return False
        if content.status not in self.statuses:
            return False
        return not self.geocodes or bool(_codes_under(content, self.geocodes))


class RelayRules(BaseModel):
    """The `relay:` section of the warnings file."""

    model_config = ConfigDict(extra="forbid")
    sources: list[RelaySource] = Field(default_factory=list, max_length=50)
    rules: list[RelayRule] = Field(default_factory=list, max_length=200)
    events: dict[str, str] = Field(
        default_factory=dict,
        description="Upstream event words → dutyd hazard ids, besides the built-in table of "
        "each hazard's names (暴雨 → rainstorm); the longest word found in the event wins.",
    )
    default_valid_hours: float = Field(
        24, gt=0, le=240, description="How long a message without `expires` is in force."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RelayRules:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("relay sources need distinct names")
        rule_names = [r.name for r in self.rules]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("relay rules need distinct names")
        for rule in self.rules:
            unknown = [s for s in rule.sources if s not in names]
            if unknown:
                raise ValueError(f"rule {rule.name} names unknown sources {unknown}")
            unknown = [h for h in rule.hazards if h not in HAZARDS]
            if unknown:
                raise ValueError(f"rule {rule.name} names unknown hazards {unknown}")
            for prefix in rule.geocodes:
                if not re.fullmatch(r"[1-9]\d{0,11}", prefix):
                    raise ValueError(f"rule {rule.name}: geocode {prefix!r} is no code prefix")
        unknown = sorted({h for h in self.events.values() if h not in HAZARDS})
        if unknown:
            raise ValueError(f"events map to unknown hazards {unknown}")
        return self

    def source(self, name: str) -> RelaySource | None:
        return next((s for s in self.sources if s.name == name), None)

    def first_match(self, source: str, content: WarningContent) -> RelayRule | None:
        return next((r for r in self.rules if r.matches(source, content)), None)

    def rule(self, name: str | None) -> RelayRule | None:
        return next((r for r in self.rules if r.name == name), None)

    def rule_for_update(
        self, source: str, content: WarningContent, unit: str, taken_by: str | None
    ) -> RelayRule | None:
        """For an upstream Update: the first rule for the chain's unit it matches (an
        upgrade to red may be relayed where yellow was drafted), else the rule that took
        the chain in."""
        found = (r for r in self.rules if r.unit == unit and r.matches(source, content))
        return next(found, None) or self.rule(taken_by)


class Unmappable(ValueError):
    """An upstream message that says nothing dutyd can issue: why, in `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _codes_under(content: WarningContent, prefixes: list[str]) -> list[str]:
    return [c for a in content.areas for c in a.codes if c.startswith(tuple(prefixes))]


def primary_info(alert: CapAlert) -> CapInfo | None:
    """The Chinese `info`, or else the first."""
    chinese = [i for i in alert.infos if i.language.lower().startswith("zh")]
    return chinese[0] if chinese else (alert.infos[0] if alert.infos else None)


def _says(text: str, word: str) -> bool:
    """Whether `word` is in `text`: anywhere for Chinese, from a word's start for Latin."""
    if word.isascii():
        return re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE) is not None
    return word in text


def _parameter(info: CapInfo, *names: str) -> str | None:
    return next((v.strip() for k, v in info.parameters if k.strip().lower() in names), None)


def hazard_of(alert: CapAlert, rules: RelayRules) -> str:
    """The hazard id: a `hazard` parameter naming one, else the longest word of the event
    table found in an info's event."""
    for info in alert.infos:
        named = _parameter(info, "hazard")
        if named in HAZARDS:
            return named
    table = {**BUILT_IN_EVENTS, **rules.events}
    words = sorted(table, key=len, reverse=True)
    for info in alert.infos:
        found = next((w for w in words if _says(info.event, w)), None)
        if found is not None:
            return table[found]
    events = ", ".join(repr(i.event) for i in alert.infos) or "none"
    raise Unmappable(f"no hazard for the event ({events}); relay.events maps event words")


def level_of(info: CapInfo) -> Level:
    """From a `colour` (or `color`) parameter, a `level` parameter, a colour word in the
    event, or the severity (Extreme → I ... Minor → IV), in that order."""
    colour = _parameter(info, "colour", "color")
    if colour and colour.lower() in COLOUR_WORDS:
        return LEVEL_OF_COLOUR[COLOUR_WORDS[colour.lower()]]
    level = _parameter(info, "level")
    if level and level.removesuffix("级") in LEVEL_WORDS:
        return LEVEL_WORDS[level.removesuffix("级")]
    for word, found in COLOUR_WORDS.items():
        if _says(info.event, word):
            return LEVEL_OF_COLOUR[found]
    if info.severity in LEVEL_OF_SEVERITY:
        return LEVEL_OF_SEVERITY[info.severity]
    raise Unmappable(f"no level: no colour or level parameter and severity {info.severity!r}")


def _texts(alert: CapAlert) -> list[dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for info in alert.infos:
        low = info.language.lower()
        language = "zh-CN" if low.startswith("zh") else "en-US" if low.startswith("en") else None
        if language is None or language in texts:
            continue
        headline = (info.headline.strip() or info.event.strip())[:200]
        texts[language] = {
            "language": language,
            "headline": headline,
            "description": (info.description.strip() or headline)[:4000],
            "instruction": info.instruction.strip()[:4000],
        }
    if "zh-CN" not in texts:
        raise Unmappable("no Chinese (zh) info: dutyd issues no warning without its Chinese text")
    return [texts["zh-CN"], *([texts["en-US"]] if "en-US" in texts else [])]


def _areas(info: CapInfo) -> list[Area]:
    # Described-only areas (no code, polygon or circle) point nowhere a recipient is.
    areas = [a for a in info.areas if a.codes or a.polygons or a.circles]
    if not areas:
        raise Unmappable("no area with a GB/T 2260 code, polygon or circle")
    return areas


def content_from(alert: CapAlert, rules: RelayRules, *, now: datetime) -> WarningContent:
    """What dutyd would issue for the upstream message, or Unmappable saying why not."""
    info = primary_info(alert)
    if info is None:
        raise Unmappable("the message has no info")
    expires = info.expires or (info.effective or alert.sent) + timedelta(
        hours=rules.default_valid_hours
    )
    if expires <= now:
        raise Unmappable(f"expired at {expires.isoformat()}")
    try:
        return WarningContent.model_validate(
            {
                "hazard": hazard_of(alert, rules),
                "level": level_of(info),
                "areas": [a.model_dump() for a in _areas(info)][:100],
                "texts": _texts(alert),
                "effective": info.effective,
                "onset": info.onset,
                "expires": expires,
                "status": alert.status,
                "urgency": info.urgency,
                "certainty": info.certainty,
            }
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise Unmappable(f"{where}: {str(problem['msg']).removeprefix('Value error, ')}") from None


def narrowed(content: WarningContent, rule: RelayRule) -> WarningContent:
    """`content` for the rule's territory only (its `geocodes`, when it `narrow`s)."""
    if not rule.geocodes or not rule.narrow:
        return content
    prefixes = tuple(rule.geocodes)
    areas = []
    for area in content.areas:
        codes = [c for c in area.codes if c.startswith(prefixes)]
        if not codes:
            continue
        whole = codes == area.codes and not (area.polygons or area.circles)
        areas.append(Area(description=area.description if whole else "", codes=codes))
    return content.model_copy(update={"areas": areas})


def lift_reason(alert: CapAlert) -> str:
    """What dutyd's lift says for an upstream Cancel: the upstream's own words."""
    info = primary_info(alert)
    words = (info.description.strip() or info.headline.strip()) if info is not None else ""
    return (words or f"上游解除 / lifted upstream ({alert.sender})")[:2000]
