"""Sources and mapping rules (`config/intake.yaml`): who may report, and what a machine's
alert becomes — which category, event type, unit, level and title, and which alerts are
one incident. Checked like plans: every mistake named with its file and line."""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.catalog import EVENT_TYPES, Category, Level
from service.errors import ConfigError
from service.yamlfile import YamlProblem, load_model

NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class ImapMailbox(BaseModel):
    """Mail: a mailbox on the office's own mail server, polled over IMAP. Its password is
    the source's secret (`DUTYD_INTAKE_SECRET_<SOURCE>` or the secrets directory)."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, max_length=255)
    port: int | None = Field(None, ge=1, le=65535, description="Default 993 (tls), else 143.")
    security: Literal["tls", "starttls", "none"] = Field(
        "tls", description="none only to a server on this machine (the password is sent)."
    )
    user: str = Field(min_length=1, max_length=320)
    ca_file: Path | None = Field(
        None, description="The CA that signed the server's certificate, if not a public one."
    )
    folder: str = Field("INBOX", min_length=1, max_length=200)
    every_seconds: int = Field(60, ge=5, le=3600, description="How often it is looked at.")

    @model_validator(mode="after")
    def _password_protected(self) -> ImapMailbox:
        if self.security == "none" and self.host not in LOOPBACK:
            raise ValueError(
                f"imap security none sends the password in the clear: only to this machine "
                f"({', '.join(sorted(LOOPBACK))}), not {self.host}; use tls or starttls"
            )
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port or (993 if self.security == "tls" else 143)


class Source(BaseModel):
    """A machine that reports: how it authenticates and how fast it may go."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["alertmanager", "webhook", "heartbeat", "mail"]
    tokens: list[str] = Field(
        default_factory=list, description="API token names that may report for it."
    )
    rate_per_minute: int = Field(6000, ge=1, le=10_000_000)
    every_minutes: int | None = Field(
        None, ge=1, le=7 * 24 * 60, description="Heartbeat: it must check in this often."
    )
    unit: str | None = Field(None, description="Heartbeat: whose duty office hears of silence.")
    listen: str | None = Field(
        None,
        pattern=r"^[^:\s]+:\d{1,5}$",
        description="Mail: host:port of the built-in SMTP listener (e.g. 127.0.0.1:2525).",
    )
    imap: ImapMailbox | None = Field(None, description="Mail: a mailbox to poll instead.")

    @model_validator(mode="after")
    def _heartbeat_complete(self) -> Source:
        if self.kind == "heartbeat" and (self.every_minutes is None or self.unit is None):
            raise ValueError("a heartbeat source needs every_minutes and unit")
        if self.kind == "mail" and self.listen is None and self.imap is None:
            raise ValueError("a mail source needs listen: host:port, or imap: its mailbox")
        if self.kind != "mail" and (self.listen or self.imap):
            raise ValueError("listen and imap are for a mail source")
        return self


class LevelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="The label (or annotation) whose value picks the level.")
    map: dict[str, Level] = Field(min_length=1)
    default: Level | None = None


class MappingRule(BaseModel):
    """Alerts matching `match` (label = value, or `~regex`) become incidents like this."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME)
    sources: list[str] = Field(min_length=1)
    match: dict[str, str] = Field(default_factory=dict)
    category: Category
    event_type: str = Field(min_length=1, description="An event type, or `{label}`.")
    unit: str = Field(min_length=1, description="A unit id, or `{label}`.")
    level: Level | LevelRule
    title: str = Field(min_length=1, max_length=300, description="Text with `{label}` fields.")
    description: str = Field("{description}", max_length=2000)
    group_by: list[str] = Field(
        default_factory=lambda: ["fingerprint"],
        description="Labels whose values make one incident (default: each alert its own).",
    )
    resolve: bool = Field(True, description="A resolved alert resolves its incident.")

    @model_validator(mode="after")
    def _event_type_fits(self) -> MappingRule:
        if "{" not in self.event_type and self.event_type not in EVENT_TYPES[self.category]:
            known = ", ".join(EVENT_TYPES[self.category])
            raise ValueError(
                f"event type {self.event_type!r} is not one of {self.category.value}'s: {known}"
            )
        for pattern in self.match.values():
            if pattern.startswith("~"):
                try:
                    re.compile(pattern[1:])
                except re.error as exc:
                    raise ValueError(f"match pattern {pattern!r}: {exc}") from None
        return self


class IntakeRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: dict[str, Source] = Field(default_factory=dict)
    rules: list[MappingRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_sources(self) -> IntakeRules:
        for rule in self.rules:
            unknown = [s for s in rule.sources if s not in self.sources]
            if unknown:
                raise ValueError(f"rule {rule.name}: unknown source(s) {', '.join(unknown)}")
        for name in self.sources:
            if not re.match(NAME, name):
                raise ValueError(f"source name {name!r}: lower-case letters, digits, - and _")
        return self

    def source_for_token(self, token_name: str) -> str | None:
        return next((n for n, s in self.sources.items() if token_name in s.tokens), None)


def load_intake_rules(path: Path | None) -> IntakeRules:
    if path is None or not path.exists():
        return IntakeRules()
    try:
        return load_model(path, IntakeRules)
    except YamlProblem as exc:
        raise ConfigError(f"the intake file does not load:\n{exc.message}") from None


@dataclass(frozen=True)
class Mapped:
    """What an alert becomes."""

    rule: str
    category: Category
    event_type: str
    unit: str
    level: Level
    title: str
    description: str
    dedup_key: str
    resolve: bool


class Unmapped(Exception):
    """An alert no rule maps, or a rule that cannot fill in its fields."""


def _matches(rule: MappingRule, fields: dict[str, str]) -> bool:
    for name, wanted in rule.match.items():
        value = fields.get(name)
        if value is None:
            return False
        if wanted.startswith("~"):
            if not re.fullmatch(wanted[1:], value):
                return False
        elif value != wanted:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _field_names(template: str) -> tuple[str, ...]:
    return tuple(n for _, n, _, _ in string.Formatter().parse(template) if n)


def _fill(template: str, fields: dict[str, str], what: str, rule: str) -> str:
    missing = [n for n in _field_names(template) if n not in fields]
    if missing:
        raise Unmapped(f"rule {rule}: {what} needs {', '.join(missing)}, which the alert lacks")
    return template.format_map(fields)


def map_alert(
    rules: IntakeRules,
    source: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    fingerprint: str,
) -> Mapped:
    """The first rule of `source` that matches: what the alert becomes."""
    fields = {**annotations, **labels, "fingerprint": fingerprint, "source": source}
    for optional in ("description", "summary", "station"):
        fields.setdefault(optional, "")  # common names a rule may use and an alert may lack
    for rule in rules.rules:
        if source not in rule.sources or not _matches(rule, fields):
            continue
        if isinstance(rule.level, Level):
            level = rule.level
        else:
            value = fields.get(rule.level.label)
            chosen = rule.level.map.get(value or "", rule.level.default)
            if chosen is None:
                raise Unmapped(
                    f"rule {rule.name}: {rule.level.label}={value!r} picks no level "
                    f"(known: {', '.join(rule.level.map)})"
                )
            level = chosen
        event_type = _fill(rule.event_type, fields, "event_type", rule.name)
        if event_type not in EVENT_TYPES[rule.category]:
            raise Unmapped(f"rule {rule.name}: event type {event_type!r} is not known")
        group = ",".join(f"{k}={fields.get(k, '')}" for k in rule.group_by)
        return Mapped(
            rule=rule.name,
            category=rule.category,
            event_type=event_type,
            unit=_fill(rule.unit, fields, "unit", rule.name),
            level=level,
            title=_fill(rule.title, fields, "title", rule.name).strip()[:300] or rule.name,
            description=_fill(rule.description, fields, "description", rule.name)[:20000],
            dedup_key=f"{source}:{rule.name}:{group}"[:200],
            resolve=rule.resolve,
        )
    raise Unmapped(f"no rule of source {source} matches labels {labels}")
