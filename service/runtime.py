"""What the running service knows right now: roster, rules, calendar and plans.

The roster comes from the database (seeded from YAML on a new database); plans and duty
rules come from files. Reloading builds a complete new set and swaps it in with no await
in between, so no engine pass ever sees half of one set and half of another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from service.errors import PlanInvalid, RosterInvalid
from service.plans.loader import PlanSet, load_plans
from service.roster.calendar import DutyCalendar
from service.roster.roster import Roster
from service.roster.rules import DutyRules, load_rules


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
    rules: DutyRules
    calendar: DutyCalendar
    last_reload: ReloadOutcome | None = None
    roster_version: int = 0

    @classmethod
    def build(cls, roster: Roster, *, plans_dir: Path, rules_file: Path) -> Runtime:
        """Check plans and rules against this roster; raise PlanInvalid or RosterInvalid."""
        return cls(
            roster=roster,
            plans=load_plans(plans_dir, roster),
            rules=load_rules(rules_file, roster),
            calendar=DutyCalendar(roster.document.calendar, roster.document.sensitive_periods),
        )

    def adopt(self, other: Runtime) -> None:
        self.roster, self.plans, self.rules, self.calendar = (
            other.roster,
            other.plans,
            other.rules,
            other.calendar,
        )
        self.roster_version = other.roster_version or self.roster_version

    def reload(self, *, plans_dir: Path, rules_file: Path, now: datetime) -> ReloadOutcome:
        """Load plans and rules anew; apply them only if all of it is valid."""
        try:
            fresh = Runtime.build(self.roster, plans_dir=plans_dir, rules_file=rules_file)
        except (PlanInvalid, RosterInvalid) as exc:
            outcome = ReloadOutcome(now, False, self.plans.digest, list(exc.problems))
        else:
            self.adopt(fresh)
            outcome = ReloadOutcome(now, True, self.plans.digest)
        self.last_reload = outcome
        return outcome
