"""What the running service knows right now: roster and plans, replaced whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from service.errors import PlanInvalid, RosterInvalid
from service.plans.loader import PlanSet, load_plans
from service.roster.loader import load_roster
from service.roster.roster import Roster


@dataclass(frozen=True)
class ReloadOutcome:
    at: datetime
    applied: bool
    plans_version: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Runtime:
    roster: Roster
    plans: PlanSet
    last_reload: ReloadOutcome | None = None

    @classmethod
    def load(cls, *, roster_file: Path, plans_dir: Path) -> Runtime:
        roster = load_roster(roster_file)
        return cls(roster=roster, plans=load_plans(plans_dir, roster))

    def reload(self, *, roster_file: Path, plans_dir: Path, now: datetime) -> ReloadOutcome:
        """Load roster and plans anew; apply them only if all of it is valid.

        The new set is built completely first and then swapped in with no await in
        between, so no engine pass ever sees half of one set and half of another.
        """
        try:
            fresh = Runtime.load(roster_file=roster_file, plans_dir=plans_dir)
        except (PlanInvalid, RosterInvalid) as exc:
            outcome = ReloadOutcome(now, False, self.plans.digest, list(exc.problems))
        else:
            self.roster, self.plans = fresh.roster, fresh.plans
            outcome = ReloadOutcome(now, True, self.plans.digest)
        self.last_reload = outcome
        return outcome
