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

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from service import metrics
from service.errors import PlanInvalid
from service.plans.archive import last_good_plan_set, remember_plan_set
from service.plans.loader import PlanSet, load_plans
from service.roster.calendar import DutyCalendar
from service.roster.roster import Roster
from service.roster.rules import DutyRules, load_rules

log = structlog.get_logger(__name__)


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
        cls,
        roster: Roster,
        *,
        plans_dir: Path,
        rules_file: Path,
        roster_version: int = 0,
        plans: PlanSet | None = None,
    ) -> Runtime:
        """Check plans (unless a set is given) and rules against this roster; raise
        PlanInvalid or RosterInvalid."""
        return cls(
            roster=roster,
            plans=plans if plans is not None else load_plans(plans_dir, roster),
            rules=load_rules(rules_file, roster),
            calendar=DutyCalendar(roster.document.calendar, roster.document.sensitive_periods),
            roster_version=roster_version,
        )

    def with_version(self, roster_version: int) -> Runtime:
        return dataclasses.replace(self, roster_version=roster_version)


async def start_in_force(
    session: AsyncSession,
    roster: Roster,
    *,
    roster_version: int,
    plans_dir: Path,
    rules_file: Path,
    now: datetime,
) -> tuple[Runtime, list[str]]:
    """What a process starts on: the plan files if they load (archived as the last good
    set), else the last good set from the database, with what is wrong with the files.
    A bad edit on disk followed by a crash or a reboot must not leave the city with no
    escalation at all. With no set archived yet, PlanInvalid as from the files."""
    try:
        in_force = Runtime.build(
            roster, plans_dir=plans_dir, rules_file=rules_file, roster_version=roster_version
        )
    except PlanInvalid as exc:
        last_good = await last_good_plan_set(session)
        if last_good is None:
            raise
        in_force = Runtime.build(
            roster,
            plans_dir=plans_dir,
            rules_file=rules_file,
            roster_version=roster_version,
            plans=last_good,
        )
        return in_force, list(exc.problems)
    await remember_plan_set(session, in_force.plans, now)
    return in_force, []


def announce_reload(outcome: ReloadOutcome, plans_loaded: int) -> None:
    """Log and count a reload of plans and rules, applied or refused."""
    if outcome.applied:
        metrics.PLAN_RELOADS.labels(result="applied").inc()
        metrics.PLAN_RELOAD_OK.set(1)
        metrics.PLANS_LOADED.set(plans_loaded)
        log.info("plans.reloaded", version=outcome.plans_version, plans=plans_loaded)
    else:
        metrics.PLAN_RELOADS.labels(result="rejected").inc()
        metrics.PLAN_RELOAD_OK.set(0)
        log.error(
            "plans.reload_rejected", problems=outcome.problems, kept_version=outcome.plans_version
        )


def announce_started_on_last_good(outcome: ReloadOutcome) -> None:
    """The plan files did not load at start-up: say so loudly, and count it."""
    metrics.PLAN_RELOADS.labels(result="rejected").inc()
    metrics.PLAN_RELOAD_OK.set(0)
    log.error(
        "plans.started_on_last_good_set",
        note="THE PLAN FILES DO NOT LOAD: running on the last set that did, "
        "until they are fixed and reloaded",
        problems=outcome.problems,
        running_version=outcome.plans_version,
    )
