"""Periodic roster work: reminders before shifts, and the daily look for gaps ahead.

Each piece of work is recorded in `job_runs` under a unique key in the same transaction
as the messages it queues, so however many dutyd processes run it, it happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.queue import queue_to_person
from service.notify.render import render_plain
from service.roster.check import CALENDAR_MISSING, check_roster
from service.roster.ical import ROLE_NAMES
from service.roster.tables import JobRunRow
from service.runtime import Runtime

log = structlog.get_logger(__name__)


async def claim_run(session: AsyncSession, *, job: str, key: str, now: datetime) -> bool:
    """Record that this run happens; False if some process already did it."""
    try:
        async with session.begin_nested():
            session.add(JobRunRow(job=job, run_key=key, at=now))
    except IntegrityError:
        return False
    return True


async def remind_upcoming_shifts(
    session: AsyncSession, runtime: Runtime, *, now: datetime, ahead: timedelta
) -> int:
    """Queue a reminder for every shift starting within `ahead` that has not had one."""
    roster = runtime.roster
    sent = 0
    for unit in roster.units.values():
        for role in ("duty_officer", "leader_on_shift"):
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
                        "role_name": ROLE_NAMES[role],
                        "start": shift.start.astimezone(unit.zone).strftime("%m-%d %H:%M"),
                        "end": shift.end.astimezone(unit.zone).strftime("%m-%d %H:%M"),
                    },
                )
                if queue_to_person(session, person, text, now):
                    sent += 1
    return sent


async def warn_of_gaps(
    session: AsyncSession, runtime: Runtime, *, now: datetime, local_day: str
) -> int:
    """Once a day: check the days ahead and tell each top unit's duty office what is wrong."""
    if not await claim_run(session, job="roster_check", key=local_day, now=now):
        return 0
    days = runtime.rules.document.warn_days_ahead
    violations = check_roster(
        runtime.roster, runtime.rules, runtime.calendar, now, now + timedelta(days=days)
    )
    log.info("roster.checked", days=days, violations=len(violations))
    if not violations:
        return 0
    roster = runtime.roster
    # The earliest real gap leads; a missing holiday calendar only when there is nothing else.
    first = min(
        (v for v in violations if v.rule != CALENDAR_MISSING),
        key=lambda v: v.start,
        default=violations[0],
    )
    zone = roster.units[first.unit].zone
    summary = f"{first.unit} {first.start.astimezone(zone):%m-%d %H:%M} {first.detail}"
    tops = [u for u in roster.units.values() if u.parent is None]
    told = 0
    for top in tops:
        for role in ("duty_officer", "office_director"):
            for holder in roster.holders(role, top.id, now):
                text = render_plain(
                    "roster_gaps",
                    holder.person.language,
                    {
                        "days": days,
                        "count": len(violations),
                        "first": summary,
                    },
                )
                if queue_to_person(session, holder.person, text, now):
                    told += 1
    return told
