"""The duty office's periodic work: reminders before shifts, and the daily look for gaps
in the roster ahead.

Each piece of work is recorded in `job_runs` under a unique key in the same transaction
as the messages it queues, so however many dutyd processes run it, it happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.queue import queue_to_person, tell_people
from service.roster.calendar import DutyCalendar
from service.roster.check import CALENDAR_MISSING, check_roster
from service.roster.models import ROTATING_ROLES
from service.roster.roster import Roster
from service.roster.rules import DutyRules
from service.store.job_runs import claim_run
from service.texts.render import render_plain
from service.texts.words import role_label

log = structlog.get_logger(__name__)

# Who keeps the roster: told of gaps ahead beside the duty office.
ROSTER_KEEPER_ROLE = "office_director"


async def remind_upcoming_shifts(
    session: AsyncSession, roster: Roster, *, now: datetime, ahead: timedelta
) -> int:
    """Queue a reminder for every shift starting within `ahead` that has not had one."""
    sent = 0
    for unit in roster.units.values():
        for role in ROTATING_ROLES:
            for shift in roster.assignments(unit.id, role, now, now + ahead, clip=False):
                if not now < shift.start <= now + ahead:
                    continue
                key = f"{unit.id}:{role}:{shift.person}:{shift.start.isoformat()}"
                if not await claim_run(session, job="shift_reminder", key=key, now=now):
                    continue
                person = roster.people[shift.person]
                text = render_plain(
                    "shift_reminder",
                    person.language,
                    {
                        "person_name": person.name,
                        "unit_name": unit.name,
                        "role_name": role_label(role, person.language),
                        "start": shift.start.astimezone(unit.zone).strftime("%m-%d %H:%M"),
                        "end": shift.end.astimezone(unit.zone).strftime("%m-%d %H:%M"),
                    },
                )
                if queue_to_person(session, person, text, now):
                    sent += 1
    return sent


async def warn_of_gaps(
    session: AsyncSession,
    roster: Roster,
    rules: DutyRules,
    calendar: DutyCalendar,
    *,
    now: datetime,
    local_day: str,
) -> int:
    """Once a day: check the days ahead and tell the duty office, and whoever keeps the
    roster, what is wrong."""
    if not await claim_run(session, job="roster_check", key=local_day, now=now):
        return 0
    days = rules.document.warn_days_ahead
    violations = check_roster(roster, rules, calendar, now, now + timedelta(days=days))
    log.info("roster.checked", days=days, violations=len(violations))
    if not violations:
        return 0
    # The earliest real gap leads; a missing holiday calendar only when there is nothing else.
    first = min(
        (v for v in violations if v.rule != CALENDAR_MISSING),
        key=lambda v: v.start,
        default=violations[0],
    )
    zone = roster.units[first.unit].zone
    summary = f"{first.unit} {first.start.astimezone(zone):%m-%d %H:%M} {first.detail}"
    keepers = [
        holder.person
        for top in roster.units.values()
        if top.parent is None
        for holder in roster.holders(ROSTER_KEEPER_ROLE, top.id, now)
    ]
    people = {p.id: p for p in [*roster.duty_office(now), *keepers]}
    return tell_people(
        session,
        people.values(),
        "roster_gaps",
        {"days": days, "count": len(violations), "first": summary},
        now,
    )
