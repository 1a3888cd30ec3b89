"""Which level the casualty figures of an incident make, by its plan's thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from service.catalog import Level
from service.plans.models import CasualtyLevels, ResolvedPlan

FIGURE_NAMES = {
    "deaths": {"zh": "死亡", "en": "deaths"},
    "seriously_injured": {"zh": "重伤", "en": "seriously injured"},
    "injured": {"zh": "受伤", "en": "injured"},
    "missing": {"zh": "失踪", "en": "missing"},
    "trapped": {"zh": "被困", "en": "trapped"},
    "evacuated": {"zh": "转移", "en": "evacuated"},
}


@dataclass(frozen=True)
class ImpliedLevel:
    level: Level
    figure: str
    count: int
    threshold: int
    plan_id: str
    on_crossing: Literal["raise", "ask"]

    @property
    def reason(self) -> str:
        return (
            f"{self.count} {FIGURE_NAMES[self.figure]['en']} reach level {self.level.value} "
            f"(from {self.threshold}, plan {self.plan_id})"
        )

    def facts(self) -> dict[str, object]:
        """`reason` as facts, kept on the timeline to be said in the reader's language."""
        return {"figure": self.figure, "count": self.count, "threshold": self.threshold}

    def values(self) -> dict[str, object]:
        """What a message about it says, in either language."""
        return {
            "proposed": self.level.value,
            "count": self.count,
            "threshold": self.threshold,
            "figure_zh": FIGURE_NAMES[self.figure]["zh"],
            "figure_en": FIGURE_NAMES[self.figure]["en"],
        }


def rule_for(plan: ResolvedPlan, category: str, event_type: str) -> CasualtyLevels | None:
    return next((r for r in plan.casualty_levels if r.covers(category, event_type)), None)


def implied_level(
    plan: ResolvedPlan, category: str, event_type: str, figures: Mapping[str, int]
) -> ImpliedLevel | None:
    """The most severe level any of whose thresholds the figures reach, with the figure
    that reached it; None if the plan sets no thresholds for it or none is reached."""
    rule = rule_for(plan, category, event_type)
    if rule is None:
        return None
    for level in Level:  # most severe first
        for figure, threshold in (rule.levels.get(level) or {}).items():
            count = int(figures.get(figure, 0))
            if count >= threshold:
                return ImpliedLevel(level, figure, count, threshold, plan.id, rule.on_crossing)
    return None
