"""Which plan governs an incident: the most specific plan that covers it."""

from __future__ import annotations

from dataclasses import dataclass

from service.catalog import Category, Level
from service.errors import NoPlanCovers
from service.plans.loader import PlanSet
from service.plans.models import KIND_RANK, LoadedPlan
from service.roster.roster import Roster


@dataclass(frozen=True)
class Choice:
    plan: LoadedPlan
    reason: str


def choose_plan(
    plans: PlanSet,
    roster: Roster,
    *,
    category: Category,
    event_type: str,
    level: Level,
    unit_id: str,
) -> Choice:
    """Precedence: nearest unit scope, then event type named, then category named, then kind."""
    lineage = [unit_id, *(u.id for u in roster.ancestors(unit_id))]
    ranked = []
    for loaded in plans.plans:
        scope = loaded.plan.scope
        if level not in scope.levels:
            continue
        if scope.categories and category not in scope.categories:
            continue
        if scope.event_types and event_type not in scope.event_types:
            continue
        if scope.units:
            distances = [lineage.index(u) for u in scope.units if u in lineage]
            if not distances:
                continue
            unit_score = len(lineage) - min(distances)
        else:
            unit_score = 0
        key = (
            unit_score,
            bool(scope.event_types),
            bool(scope.categories),
            KIND_RANK[loaded.plan.kind],
        )
        ranked.append((key, loaded))
    if not ranked:
        raise NoPlanCovers(
            f"no plan covers {category.value}/{event_type} level {level.value} in unit {unit_id}"
        )
    ranked.sort(key=lambda item: (item[0], item[1].plan.id), reverse=True)
    (key, best), others = ranked[0], [loaded.plan.id for _, loaded in ranked[1:]]
    parts = []
    if key[0]:
        parts.append(f"covers unit {unit_id}")
    if key[1]:
        parts.append(f"names event type {event_type}")
    elif key[2]:
        parts.append(f"names category {category.value}")
    parts.append(f"kind {best.plan.kind.value}")
    reason = f"plan {best.plan.id} chosen: " + ", ".join(parts)
    if others:
        reason += f"; more specific than {', '.join(others)}"
    return Choice(plan=best, reason=reason)
