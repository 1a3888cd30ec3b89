"""What the running service knows right now: roster and plans, swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.plans.loader import PlanSet, load_plans
from service.roster.loader import load_roster
from service.roster.roster import Roster


@dataclass
class Runtime:
    roster: Roster
    plans: PlanSet

    @classmethod
    def load(cls, *, roster_file: Path, plans_dir: Path) -> Runtime:
        roster = load_roster(roster_file)
        return cls(roster=roster, plans=load_plans(plans_dir, roster))
