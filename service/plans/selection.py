"""Which plan governs an incident: the most specific plan that covers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.catalog import EVENT_TYPES, Category, Level
from service.errors import NoPlanCovers
from service.plans.loader import PlanSet
from service.plans.models import KIND_RANK, LoadedPlan
from service.roster.roster import Roster


@dataclass(frozen=True)
class Choice:
    plan: LoadedPlan
    reason: str
    # The reason's facts, for saying it in another language (the console's timeline).
    grounds: dict[str, Any] = field(default_factory=dict)


def _ranked(
    plans: PlanSet,
    roster: Roster,
    *,
    category: Category,
    event_type: str,
    level: Level,
    unit_id: str,
) -> list[tuple[tuple[int, bool, bool, int, int], LoadedPlan]]:
    """The plans covering such an incident, best first, each with its precedence key."""
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
            # A plan that extends another refines it: for the same scope it wins.
            len(loaded.plan.chain),
        )
        ranked.append((key, loaded))
    ranked.sort(key=lambda item: (item[0], item[1].plan.id), reverse=True)
    return ranked


def choose_plan(
    plans: PlanSet,
    roster: Roster,
    *,
    category: Category,
    event_type: str,
    level: Level,
    unit_id: str,
) -> Choice:
    """Precedence: nearest unit scope, then event type named, then category named, then
    kind, then refinement (a plan wins over the plans it extends); a tie that none of these
    breaks goes to the plan id that sorts last, and says so (`plans check` warns of it)."""
    ranked = _ranked(
        plans, roster, category=category, event_type=event_type, level=level, unit_id=unit_id
    )
    if not ranked:
        raise NoPlanCovers(
            f"no plan covers {category.value}/{event_type} level {level.value} in unit {unit_id}"
        )
    key, best = ranked[0]
    tied = [loaded.plan.id for other, loaded in ranked[1:] if other == key]
    beaten = [loaded.plan.id for other, loaded in ranked[1:] if other != key]
    parts = []
    if key[0]:
        parts.append(f"covers unit {unit_id}")
    if key[1]:
        parts.append(f"names event type {event_type}")
    elif key[2]:
        parts.append(f"names category {category.value}")
    parts.append(f"kind {best.plan.kind.value}")
    if len(best.plan.chain) > 1:
        parts.append(f"refines {best.plan.chain[-2]}")
    reason = f"plan {best.plan.id} chosen: " + ", ".join(parts)
    if beaten:
        reason += f"; more specific than {', '.join(beaten)}"
    if tied:
        reason += f"; TIED with {', '.join(tied)} (chosen by id: make one more specific)"
    grounds = {
        "unit": unit_id if key[0] else None,
        "event_type": event_type if key[1] else None,
        "category": category.value if key[2] and not key[1] else None,
        "kind": best.plan.kind.value,
        "refines": best.plan.chain[-2] if len(best.plan.chain) > 1 else None,
        "beaten": beaten,
        "tied": tied,
    }
    return Choice(plan=best, reason=reason, grounds=grounds)


def find_ties(plans: PlanSet, roster: Roster) -> list[str]:
    """Every category x event type x level x unit for which two plans tie: the choice
    between them falls to their ids, which no officer wrote down as a rule."""
    found: dict[tuple[str, ...], list[str]] = {}
    for category, types in EVENT_TYPES.items():
        for event_type in types:
            for level in Level:
                for unit_id in sorted(roster.units):
                    ranked = _ranked(
                        plans,
                        roster,
                        category=category,
                        event_type=event_type,
                        level=level,
                        unit_id=unit_id,
                    )
                    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
                        ids = tuple(p.plan.id for k, p in ranked if k == ranked[0][0])
                        found.setdefault(ids, []).append(
                            f"{category.value}/{event_type} level {level.value} in {unit_id}"
                        )
    return [
        f"plans {' and '.join(ids)} tie for {cases[0]}"
        + (f" and {len(cases) - 1} more case(s)" if len(cases) > 1 else "")
        + f"; {ids[0]} is chosen only because of its id"
        for ids, cases in sorted(found.items())
    ]


def named_plan(plans: PlanSet, plan_id: str, level: Level) -> Choice:
    """The plan `plan_id` itself, as a drill of it asks, whatever would govern such an
    incident; it must have the level."""
    loaded = plans.get(plan_id)
    if loaded is None:
        known = ", ".join(sorted(p.plan.id for p in plans.plans))
        raise NoPlanCovers(f"no plan {plan_id!r} is loaded (plans: {known})")
    if level not in loaded.plan.scope.levels:
        levels = ", ".join(lv.value for lv in loaded.plan.scope.levels)
        raise NoPlanCovers(f"plan {plan_id} has no level {level.value} (its levels: {levels})")
    return Choice(
        plan=loaded,
        reason=f"plan {plan_id} named by the drill",
        grounds={
            "drill": True,
            "unit": None,
            "event_type": None,
            "category": None,
            "kind": loaded.plan.kind.value,
            "refines": None,
            "beaten": [],
            "tied": [],
        },
    )
