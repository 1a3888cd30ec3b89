"""What the schema alone cannot know about a plan file: names that must exist in the
roster, template variables, and rules across keys; also read from the raw data of a file
the schema refused, so that one bad value hides no other mistake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from pydantic import ValidationError

from service.catalog import EVENT_TYPES, Level
from service.durations import format_duration
from service.plans.models import (
    EscalationAppend,
    LevelRules,
    PlanDocument,
    ResolvedPlan,
    Target,
    Templates,
)
from service.plans.templates import ESCALATION_VARIABLES
from service.roster.roster import Roster
from service.texts.render import template_environment
from service.yamlfile import Document

SPECIAL_TARGET_UNITS = ("incident", "parent", "top")
Location = tuple[str | int, ...]


@dataclass
class PlanSource:
    document: Document
    plan: PlanDocument


def sections(plan: PlanDocument) -> Iterator[tuple[Location, LevelRules]]:
    yield ("defaults",), plan.defaults
    for level, rules in plan.levels.items():
        yield ("levels", level.value), rules


def targets(plan: PlanDocument) -> Iterator[tuple[Location, Target]]:
    """Every target written anywhere in a plan file, with its path."""
    for name, members in plan.groups.items():
        for i, target in enumerate(members):
            yield ("groups", name, i), target
    for where, rules in sections(plan):
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
            for h, hop in enumerate(rules.reports.chain or []):
                yield (*where, "reports", "chain", h, "responsible"), hop.responsible
                for i, target in enumerate(hop.to):
                    yield (*where, "reports", "chain", h, "to", i), target
        if rules.escalation:
            steps, key = (
                (rules.escalation.append, "append")
                if isinstance(rules.escalation, EscalationAppend)
                else (rules.escalation.steps, "steps")
            )
            for s, step in enumerate(steps):
                for t, target in enumerate(step.notify):
                    yield (*where, "escalation", key, s, "notify", t), target
        if rules.reports and rules.reports.late_escalation:
            for s, step in enumerate(rules.reports.late_escalation):
                for t, target in enumerate(step.notify):
                    yield (*where, "reports", "late_escalation", s, "notify", t), target


TARGET_KEYS = set(Target.model_fields)


class Checker:
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
        for r, rule in enumerate(plan.casualty_levels or []):
            allowed = {t for c in (rule.categories or list(EVENT_TYPES)) for t in EVENT_TYPES[c]}
            for i, event_type in enumerate(rule.event_types):
                if event_type not in allowed:
                    self.report(
                        ("casualty_levels", r, "event_types", i),
                        f"unknown event type {event_type!r}; expected one of "
                        f"{', '.join(sorted(allowed))}",
                    )
        for name, members in plan.groups.items():
            for i, target in enumerate(members):
                if target.group is not None:
                    self.report(("groups", name, i), "a group may not contain another group")
        for location, target in targets(plan):
            self._check_target(location, target)
        for where, rules in sections(plan):
            if rules.templates is not None:
                self._check_templates((*where, "templates"), rules.templates)
        levels_in_scope = set(plan.scope.levels if plan.scope else list(Level))
        for level in plan.levels:
            if plan.scope is not None and level not in levels_in_scope:
                self.report(("levels", level.value), f"level {level.value} is not in scope.levels")

    @classmethod
    def raw_names(cls, document: Document, roster: Roster) -> list[str]:
        """Unknown roles, people and units in a file the schema refused, found in its raw
        data: every target-shaped mapping, and the scope's units."""
        data = document.data if isinstance(document.data, dict) else {}
        groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
        checker = cls(document, roster, {str(name): [] for name in groups})
        scope = data.get("scope")
        if isinstance(scope, dict) and isinstance(scope.get("units"), list):
            for i, unit_id in enumerate(scope["units"]):
                if isinstance(unit_id, str) and unit_id not in roster.units:
                    checker.report(("scope", "units", i), checker._unknown_unit(unit_id))

        def walk(value: Any, location: tuple[str | int, ...]) -> None:
            if isinstance(value, dict):
                if value and set(value) <= TARGET_KEYS and location[:1] != ("scope",):
                    try:
                        target = Target.model_validate(value)
                    except ValidationError:
                        return
                    checker._check_target(location, target)
                    return
                for key, item in value.items():
                    walk(item, (*location, str(key)))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, (*location, index))

        walk(data, ())
        return checker.problems

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

    def check_resolved(self, plan: ResolvedPlan, sources: dict[str, PlanSource]) -> None:
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

    def _origin_location(self, origin: str, kind: str) -> Location:
        section = origin.rsplit("(", 1)[-1].rstrip(")")
        if not origin.startswith(str(self.document.path)):
            return ("extends",)
        prefix: Location = (
            ("defaults",) if section == "defaults" else ("levels", section.split(".")[1])
        )
        return (*prefix, "reports", kind, "deadline")
