"""What is in force right now: roster, duty rules, calendar and plans, as one value.

The roster comes from the database (seeded from YAML on a new database); plans and duty
rules come from files. A change (a reload, a roster edit) builds a complete new value,
checked whole, and the daemon swaps it in with no await in between, and only once the
edit has committed: no engine pass ever sees half of one set and half of another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

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


@dataclass(frozen=True)
class Runtime:
    roster: Roster
    plans: PlanSet
    rules: DutyRules
    calendar: DutyCalendar
    roster_version: int = 0

    @classmethod
    def build(
        cls, roster: Roster, *, plans_dir: Path, rules_file: Path, roster_version: int = 0
    ) -> Runtime:
        """Check plans and rules against this roster; raise PlanInvalid or RosterInvalid."""
        return cls(
            roster=roster,
            plans=load_plans(plans_dir, roster),
            rules=load_rules(rules_file, roster),
            calendar=DutyCalendar(roster.document.calendar, roster.document.sensitive_periods),
            roster_version=roster_version,
        )

    def with_version(self, roster_version: int) -> Runtime:
        return dataclasses.replace(self, roster_version=roster_version)
