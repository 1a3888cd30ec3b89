"""The effective plan as a person reads it: YAML with the origin of every rule."""

from __future__ import annotations

import yaml

from service.catalog import Level
from service.plans.models import ResolvedPlan

RULE_ORDER = ("response", "notify", "reports", "escalation", "templates")


def _yaml(value: object, indent: int) -> str:
    text = yaml.safe_dump(
        value, allow_unicode=True, sort_keys=False, width=100, default_flow_style=None
    ).rstrip()
    pad = " " * indent
    return "\n".join(pad + line for line in text.splitlines())


def describe(plan: ResolvedPlan, levels: list[Level] | None = None) -> str:
    lines = [
        f"# plan {plan.id} ({plan.kind.value}): {plan.title}",
        f"# file {plan.source_file}",
    ]
    if len(plan.chain) > 1:
        lines.append(f"# extends {' -> '.join(plan.chain[:-1])}")
    lines.append("scope:")
    lines.append(_yaml(plan.scope.model_dump(mode="json"), 2))
    if plan.groups:
        lines.append("groups:")
        groups = {
            k: [t.model_dump(exclude_defaults=True) for t in v] for k, v in plan.groups.items()
        }
        lines.append(_yaml(groups, 2))
    lines.append("levels:")
    for level in levels or list(plan.levels):
        rules = plan.levels.get(level)
        if rules is None:
            lines.append(f"  {level.value}: null  # not in this plan's scope")
            continue
        lines.append(f"  {level.value}:")
        origins = plan.origins.get(level, {})
        data = rules.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        for key in RULE_ORDER:
            if key not in data:
                continue
            if key in ("reports", "templates"):
                lines.append(f"    {key}:")
                for name, value in data[key].items():
                    origin = origins.get(f"{key}.{name}", "?")
                    lines.append(f"      # from {origin}")
                    lines.append(_yaml({name: value}, 6))
            else:
                lines.append(f"    # from {origins.get(key, '?')}")
                lines.append(_yaml({key: data[key]}, 4))
    return "\n".join(lines)
