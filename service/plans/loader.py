"""Load every plan in a directory, resolve inheritance, and refuse the set if anything is wrong.

Every problem in every file is collected and reported together, each with file, line and
column, the path inside the document, and what was found against what was expected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.catalog import Level
from service.errors import PlanInvalid
from service.plans.checks import Checker, PlanSource
from service.plans.models import (
    CasualtyLevels,
    EffectiveRules,
    EscalationAppend,
    LevelRules,
    LoadedPlan,
    PlanDocument,
    Reports,
    ResolvedPlan,
    Scope,
    Target,
    Templates,
)
from service.roster.roster import Roster
from service.yamlfile import YamlProblem, read_yaml_document, validation_problems

RULE_KEYS = ("response", "notify", "escalation")


@dataclass(frozen=True)
class PlanSet:
    plans: tuple[LoadedPlan, ...]

    def get(self, plan_id: str) -> LoadedPlan | None:
        return next((p for p in self.plans if p.plan.id == plan_id), None)

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(p.digest for p in self.plans).encode()).hexdigest()


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
    sources: dict[str, PlanSource] = {}
    broken: dict[str, str] = {}  # plan id -> file, for files that did not validate
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
            # What the schema refused hides nothing else: names are checked all the same.
            problems.extend(Checker.raw_names(document, roster))
            if isinstance(document.data, dict) and isinstance(document.data.get("id"), str):
                broken[document.data["id"]] = str(path)
            continue
        if plan.id in sources:
            problems.append(
                document.problem(
                    ("id",),
                    f"plan id {plan.id!r} is already used by {sources[plan.id].document.path}",
                )
            )
            continue
        sources[plan.id] = PlanSource(document, plan)

    chains = _extends_chains(sources, problems, broken)
    loaded = []
    for plan_id, chain in chains.items():
        source = sources[plan_id]
        checker = Checker(source.document, roster, _groups(sources, chain))
        checker.check_document(source.plan)
        resolved = _resolve(sources, chain, checker.problems)
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


def _extends_chains(
    sources: dict[str, PlanSource], problems: list[str], broken: dict[str, str]
) -> dict[str, list[str]]:
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
            if current in broken:
                problems.append(
                    source.document.problem(
                        ("extends",),
                        f"extends plan {current!r}, which has errors itself ({broken[current]}): "
                        "fix it first",
                    )
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


def _groups(sources: dict[str, PlanSource], chain: list[str]) -> dict[str, list[Target]]:
    groups: dict[str, list[Target]] = {}
    for plan_id in chain:
        groups.update(sources[plan_id].plan.groups)
    return groups


def _resolve(sources: dict[str, PlanSource], chain: list[str], problems: list[str]) -> ResolvedPlan:
    own = sources[chain[-1]]
    scope: Scope | None = None
    casualty_levels: list[CasualtyLevels] = []
    for plan_id in chain:
        scope = sources[plan_id].plan.scope or scope
        given = sources[plan_id].plan.casualty_levels
        casualty_levels = given if given is not None else casualty_levels
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
                (("defaults",), plan.defaults),
                (("levels", level.value), plan.levels.get(level)),
            ):
                if rules is None:
                    continue
                where = f"{path} ({'.'.join(section)})"
                problem = _overlay(merged, origin, rules, where)
                if problem and plan_id == chain[-1]:
                    problems.append(
                        sources[plan_id].document.problem((*section, "escalation"), problem)
                    )
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
        casualty_levels=casualty_levels,
        levels=levels,
        origins=origins,
    )


def _overlay(
    merged: dict[str, Any], origin: dict[str, str], rules: LevelRules, where: str
) -> str | None:
    """Lay `rules` over what came before; a problem to report, if the rules cannot apply."""
    problem = None
    for key in RULE_KEYS:
        value = getattr(rules, key)
        if isinstance(value, EscalationAppend):
            inherited = merged.get(key)
            if inherited is None:
                problem = "escalation 'append' adds steps to an inherited chain, but no "
                problem += "plan this one extends gives an escalation for this level"
                continue
            merged[key] = inherited.model_copy(update={"steps": [*inherited.steps, *value.append]})
            origin[key] = f"{origin[key]} + {where}"
        elif value is not None:
            merged[key] = value
            origin[key] = where
    for key, container in (("reports", rules.reports), ("templates", rules.templates)):
        if container is None:
            continue
        for name in container.model_fields_set:
            merged[key][name] = getattr(container, name)
            origin[f"{key}.{name}"] = where
    return problem
