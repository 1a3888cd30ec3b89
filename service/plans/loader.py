"""Load every plan in a directory; reject the whole set if any file is wrong."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from service.catalog import EVENT_TYPES
from service.errors import PlanInvalid
from service.plans.models import LoadedPlan, Plan
from service.roster.roster import Roster
from service.yamlfile import YamlProblem, read_yaml, validation_problems

SPECIAL_TARGET_UNITS = ("incident", "parent")


@dataclass(frozen=True)
class PlanSet:
    plans: tuple[LoadedPlan, ...]

    def get(self, plan_id: str) -> LoadedPlan | None:
        return next((p for p in self.plans if p.plan.id == plan_id), None)

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(p.digest for p in self.plans).encode()).hexdigest()


def load_plans(directory: Path, roster: Roster) -> PlanSet:
    """Load and check all `*.yaml` plans in `directory`; raise PlanInvalid with every problem."""
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not directory.is_dir():
        raise PlanInvalid([f"{directory}: plans directory does not exist"])
    if not files:
        raise PlanInvalid([f"{directory}: no plan files (*.yaml) found"])

    problems: list[str] = []
    loaded: list[LoadedPlan] = []
    for path in files:
        try:
            data = read_yaml(path)
            plan = Plan.model_validate(data)
        except YamlProblem as exc:
            problems.extend(exc.message.splitlines())
            continue
        except ValidationError as exc:
            problems.extend(validation_problems(path, exc))
            continue
        problems.extend(_cross_check(path, plan, roster))
        content = path.read_text(encoding="utf-8")
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        loaded.append(LoadedPlan(plan=plan, source_file=str(path), digest=digest, content=content))

    seen: dict[str, str] = {}
    for item in loaded:
        if item.plan.id in seen:
            problems.append(
                f"{item.source_file}: plan id {item.plan.id!r} is already used by "
                f"{seen[item.plan.id]}"
            )
        seen.setdefault(item.plan.id, item.source_file)
    if problems:
        raise PlanInvalid(problems)
    return PlanSet(plans=tuple(loaded))


def _cross_check(path: Path, plan: Plan, roster: Roster) -> list[str]:
    """What the schema alone cannot know: names that must exist in the roster and catalog."""
    problems = []
    for i, unit_id in enumerate(plan.scope.units):
        if unit_id not in roster.units:
            problems.append(f"{path}: at scope.units.{i}: unknown unit {unit_id!r}")
    allowed_types = {
        t for c in (plan.scope.categories or list(EVENT_TYPES)) for t in EVENT_TYPES[c]
    }
    for i, event_type in enumerate(plan.scope.event_types):
        if event_type not in allowed_types:
            problems.append(
                f"{path}: at scope.event_types.{i}: unknown event type {event_type!r} "
                f"for categories {', '.join(plan.scope.categories) or 'any'}"
            )
    roles = roster.role_names
    for level in plan.scope.levels:
        if plan.escalation_for(level) is None:
            problems.append(f"{path}: level {level.value} is in scope but has no escalation")
    escalations = [("escalation", plan.escalation)] + [
        (f"levels.{level.value}.escalation", rules.escalation)
        for level, rules in plan.levels.items()
    ]
    for where, escalation in escalations:
        if escalation is None:
            continue
        for s, step in enumerate(escalation.steps):
            for t, target in enumerate(step.notify):
                at = f"{where}.steps.{s}.notify.{t}"
                if target.role is not None and target.role not in roles:
                    problems.append(
                        f"{path}: at {at}: unknown role {target.role!r}; "
                        f"known roles: {', '.join(sorted(roles))}"
                    )
                if target.person is not None and target.person not in roster.people:
                    problems.append(f"{path}: at {at}: unknown person {target.person!r}")
                if target.unit not in SPECIAL_TARGET_UNITS and target.unit not in roster.units:
                    problems.append(f"{path}: at {at}.unit: unknown unit {target.unit!r}")
    for level in plan.levels:
        if level not in plan.scope.levels:
            problems.append(f"{path}: at levels.{level.value}: level is not in scope.levels")
    return problems
