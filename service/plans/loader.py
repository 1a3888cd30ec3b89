"""Load every plan in a directory, resolve inheritance, and refuse the set if anything is wrong.

Every problem in every file is collected and reported together, each with file, line and
column, the path inside the document, and what was found against what was expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from pydantic import ValidationError

from service.catalog import EVENT_TYPES, Level
from service.durations import format_duration
from service.errors import PlanInvalid
from service.plans.models import (
    EffectiveRules,
    LevelRules,
    LoadedPlan,
    PlanDocument,
    Reports,
    ResolvedPlan,
    Scope,
    Target,
    Templates,
)
from service.plans.templates import ESCALATION_VARIABLES
from service.roster.roster import Roster
from service.texts.render import template_environment
from service.yamlfile import Document, YamlProblem, read_yaml_document, validation_problems

SPECIAL_TARGET_UNITS = ("incident", "parent", "top")
RULE_KEYS = ("response", "notify", "escalation")
Location = tuple[str | int, ...]


@dataclass(frozen=True)
class PlanSet:
    plans: tuple[LoadedPlan, ...]

    def get(self, plan_id: str) -> LoadedPlan | None:
        return next((p for p in self.plans if p.plan.id == plan_id), None)

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(p.digest for p in self.plans).encode()).hexdigest()


@dataclass
class _Source:
    document: Document
    plan: PlanDocument


def canonical_content(plan: ResolvedPlan) -> str:
    """The plan as JSON with every mapping's keys sorted: its version (the SHA-256 of this)
    is a pure function of its content, the same in every process and on every machine
    (a dict filled from a set would otherwise follow the process's hash seed)."""
    return json.dumps(
        plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def load_plans(directory: Path, roster: Roster) -> PlanSet:
    """Load, resolve and check all `*.yaml` plans in `directory`; PlanInvalid if any is wrong."""
    if not directory.is_dir():
        raise PlanInvalid([f"{directory}: plans directory does not exist"])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise PlanInvalid([f"{directory}: no plan files (*.yaml) found"])

    problems: list[str] = []
    sources: dict[str, _Source] = {}
    for path in files:
        try:
            document = read_yaml_document(path)
        except YamlProblem as exc:
            problems.extend(exc.problems)
            continue
        try:
            plan = PlanDocument.model_validate(document.data)
        except ValidationError as exc:
            problems.extend(validation_problems(document, exc))
            continue
        if plan.id in sources:
            problems.append(
                document.problem(
                    ("id",),
                    f"plan id {plan.id!r} is already used by {sources[plan.id].document.path}",
                )
            )
            continue
        sources[plan.id] = _Source(document, plan)

    chains = _extends_chains(sources, problems)
    loaded = []
    for plan_id, chain in chains.items():
        source = sources[plan_id]
        checker = _Checker(source.document, roster, _groups(sources, chain))
        checker.check_document(source.plan)
        resolved = _resolve(sources, chain)
        checker.check_resolved(resolved, sources)
        problems.extend(checker.problems)
        content = canonical_content(resolved)
        loaded.append(
            LoadedPlan(
                plan=resolved,
                source_file=str(source.document.path),
                digest=hashlib.sha256(content.encode("utf-8")).hexdigest(),
                content=content,
            )
        )
    if problems:
        raise PlanInvalid(problems)
    return PlanSet(plans=tuple(sorted(loaded, key=lambda p: p.plan.id)))


def _extends_chains(sources: dict[str, _Source], problems: list[str]) -> dict[str, list[str]]:
    """For each plan whose ancestry is sound, its ids from the root down to itself."""
    chains: dict[str, list[str]] = {}
    for plan_id, source in sources.items():
        chain = [plan_id]
        current = source.plan.extends
        while current is not None:
            if current in chain:
                cycle = " extends ".join([*chain, current])
                problems.append(
                    source.document.problem(("extends",), f"extends forms a cycle: {cycle}")
                )
                break
            if current not in sources:
                problems.append(
                    source.document.problem(
                        ("extends",),
                        f"extends unknown plan {current!r}; "
                        f"known plans: {', '.join(sorted(sources))}",
                    )
                )
                break
            chain.append(current)
            current = sources[current].plan.extends
        else:
            chains[plan_id] = list(reversed(chain))
    return chains


def _groups(sources: dict[str, _Source], chain: list[str]) -> dict[str, list[Target]]:
    groups: dict[str, list[Target]] = {}
    for plan_id in chain:
        groups.update(sources[plan_id].plan.groups)
    return groups


def _resolve(sources: dict[str, _Source], chain: list[str]) -> ResolvedPlan:
    own = sources[chain[-1]]
    scope: Scope | None = None
    for plan_id in chain:
        scope = sources[plan_id].plan.scope or scope
    scope = scope or Scope()
    levels: dict[Level, EffectiveRules] = {}
    origins: dict[Level, dict[str, str]] = {}
    for level in scope.levels:
        merged: dict[str, Any] = {"reports": {}, "templates": {}}
        origin: dict[str, str] = {}
        for plan_id in chain:
            plan = sources[plan_id].plan
            path = sources[plan_id].document.path
            for section, rules in (
                ("defaults", plan.defaults),
                (f"levels.{level.value}", plan.levels.get(level)),
            ):
                if rules is not None:
                    _overlay(merged, origin, rules, f"{path} ({section})")
        levels[level] = EffectiveRules(
            response=merged.get("response"),
            notify=merged.get("notify") or [],
            reports=Reports(**merged["reports"]),
            escalation=merged.get("escalation"),
            templates=Templates(**merged["templates"]),
        )
        origins[level] = origin
    return ResolvedPlan(
        id=own.plan.id,
        kind=own.plan.kind,
        title=own.plan.title,
        chain=chain,
        source_file=str(own.document.path),
        scope=scope,
        groups=_groups(sources, chain),
        levels=levels,
        origins=origins,
    )


def _overlay(merged: dict[str, Any], origin: dict[str, str], rules: LevelRules, where: str) -> None:
    for key in RULE_KEYS:
        value = getattr(rules, key)
        if value is not None:
            merged[key] = value
            origin[key] = where
    for key, container in (("reports", rules.reports), ("templates", rules.templates)):
        if container is None:
            continue
        for name in container.model_fields_set:
            merged[key][name] = getattr(container, name)
            origin[f"{key}.{name}"] = where


def _sections(plan: PlanDocument) -> Iterator[tuple[Location, LevelRules]]:
    yield ("defaults",), plan.defaults
    for level, rules in plan.levels.items():
        yield ("levels", level.value), rules


def _targets(plan: PlanDocument) -> Iterator[tuple[Location, Target]]:
    """Every target written anywhere in a plan file, with its path."""
    for name, members in plan.groups.items():
        for i, target in enumerate(members):
            yield ("groups", name, i), target
    for where, rules in _sections(plan):
        if rules.response:
            for i, target in enumerate(rules.response.command):
                yield (*where, "response", "command", i), target
        for i, rule in enumerate(rules.notify or []):
            for j, target in enumerate(rule.targets):
                yield (*where, "notify", i, "targets", j), target
        if rules.reports:
            for kind in ("initial", "written", "followups", "final"):
                duty = getattr(rules.reports, kind)
                if duty is None:
                    continue
                yield (*where, "reports", kind, "responsible"), duty.responsible
                for i, target in enumerate(duty.to):
                    yield (*where, "reports", kind, "to", i), target
        if rules.escalation:
            for s, step in enumerate(rules.escalation.steps):
                for t, target in enumerate(step.notify):
                    yield (*where, "escalation", "steps", s, "notify", t), target
        if rules.reports and rules.reports.late_escalation:
            for s, step in enumerate(rules.reports.late_escalation):
                for t, target in enumerate(step.notify):
                    yield (*where, "reports", "late_escalation", s, "notify", t), target


class _Checker:
    """What the schema alone cannot know: names that must exist, and rules across keys."""

    def __init__(self, document: Document, roster: Roster, groups: dict[str, list[Target]]) -> None:
        self.document = document
        self.roster = roster
        self.groups = groups
        self.problems: list[str] = []

    def report(self, location: Location, message: str) -> None:
        self.problems.append(self.document.problem(location, message))

    def check_document(self, plan: PlanDocument) -> None:
        scope = plan.scope
        if scope is not None:
            for i, unit_id in enumerate(scope.units):
                if unit_id not in self.roster.units:
                    self.report(("scope", "units", i), self._unknown_unit(unit_id))
            allowed = {t for c in (scope.categories or list(EVENT_TYPES)) for t in EVENT_TYPES[c]}
            for i, event_type in enumerate(scope.event_types):
                if event_type not in allowed:
                    self.report(
                        ("scope", "event_types", i),
                        f"unknown event type {event_type!r} for categories "
                        f"{', '.join(scope.categories) or 'any'}; expected one of "
                        f"{', '.join(sorted(allowed))}",
                    )
        for name, members in plan.groups.items():
            for i, target in enumerate(members):
                if target.group is not None:
                    self.report(("groups", name, i), "a group may not contain another group")
        for location, target in _targets(plan):
            self._check_target(location, target)
        for where, rules in _sections(plan):
            if rules.templates is not None:
                self._check_templates((*where, "templates"), rules.templates)
        levels_in_scope = set(plan.scope.levels if plan.scope else list(Level))
        for level in plan.levels:
            if plan.scope is not None and level not in levels_in_scope:
                self.report(("levels", level.value), f"level {level.value} is not in scope.levels")

    def _unknown_unit(self, unit_id: str) -> str:
        return f"unknown unit {unit_id!r}; expected one of {', '.join(sorted(self.roster.units))}"

    def _check_target(self, location: Location, target: Target) -> None:
        roles = self.roster.role_names
        if target.role is not None and target.role not in roles:
            self.report(
                (*location, "role"),
                f"unknown role {target.role!r}; expected one of {', '.join(sorted(roles))}",
            )
        if target.person is not None and target.person not in self.roster.people:
            self.report((*location, "person"), f"unknown person {target.person!r}")
        if target.group is not None and target.group not in self.groups:
            known = ", ".join(sorted(self.groups)) or "none defined"
            self.report((*location, "group"), f"unknown group {target.group!r}; groups: {known}")
        if target.unit not in SPECIAL_TARGET_UNITS and target.unit not in self.roster.units:
            self.report((*location, "unit"), self._unknown_unit(target.unit))

    def _check_templates(self, location: Location, templates: Templates) -> None:
        env = template_environment()
        for name in templates.model_fields_set:
            text = getattr(templates, name)
            if text is None:
                continue
            for language in ("zh", "en"):
                source = getattr(text, language)
                where = (*location, name, language)
                try:
                    used = meta.find_undeclared_variables(env.parse(source))
                except TemplateSyntaxError as exc:
                    self.report(
                        where,
                        f"template does not parse: {exc.message} (template line {exc.lineno})",
                    )
                    continue
                for variable in sorted(used - set(ESCALATION_VARIABLES)):
                    self.report(
                        where,
                        f"template uses undefined variable {variable!r}; expected one of "
                        f"{', '.join(ESCALATION_VARIABLES)}",
                    )

    def check_resolved(self, plan: ResolvedPlan, sources: dict[str, _Source]) -> None:
        written_here = {level.value for level in sources[plan.id].plan.levels}
        late_written: dict[tuple[Location, str], list[str]] = {}
        for level, rules in plan.levels.items():
            where: Location = ("levels", level.value) if level.value in written_here else ("scope",)
            if rules.escalation is None and not rules.notify:
                self.report(
                    where,
                    f"level {level.value}: nobody to notify (no escalation and no "
                    "notify rules, in this plan or any it extends)",
                )
            initial, written = rules.reports.initial, rules.reports.written
            if initial and written and written.deadline < initial.deadline:
                origin = plan.origins[level].get("reports.written", "")
                message = (
                    f"written report deadline {format_duration(written.deadline)} is earlier than "
                    f"the initial report deadline {format_duration(initial.deadline)}"
                )
                key = (self._origin_location(origin, "written"), message)
                late_written.setdefault(key, []).append(level.value)
        for (location, message), levels in late_written.items():
            self.report(location, f"level {', '.join(levels)}: {message}")

    def _levels_written(self, sources: dict[str, _Source], plan: ResolvedPlan) -> set[str]:
        return {level.value for level in sources[plan.id].plan.levels}

    def _origin_location(self, origin: str, kind: str) -> Location:
        section = origin.rsplit("(", 1)[-1].rstrip(")")
        if not origin.startswith(str(self.document.path)):
            return ("extends",)
        prefix: Location = (
            ("defaults",) if section == "defaults" else ("levels", section.split(".")[1])
        )
        return (*prefix, "reports", kind, "deadline")
