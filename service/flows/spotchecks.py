"""Spot-checks carried out: a planned check asks the duty officer on shift at that
moment; an answer in time is recorded with how long it took; silence past the limit is a
lapse, told to the leader on shift."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.queue import tell_people
from service.roster.roster import Roster
from service.spotchecks.service import SpotCheckRules, due_checks, open_check_of
from service.spotchecks.tables import SpotCheckRow


def _values(
    roster: Roster, row: SpotCheckRow, rules: SpotCheckRules, name: str
) -> dict[str, object]:
    unit = roster.unit(row.unit_id)
    asked = row.asked_at or row.planned_at
    return {
        "unit_name": unit.name,
        "name": name,
        "minutes": int(rules.answer_within.total_seconds() // 60),
        "check_id": row.id,
        "asked": asked.astimezone(unit.zone).strftime("%m-%d %H:%M"),
    }


async def run_spot_checks(
    session: AsyncSession, roster: Roster, rules: SpotCheckRules, now: datetime, limit: int
) -> int:
    rows = await due_checks(session, now, limit)
    for row in rows:
        if row.state == "planned":
            officers = [h.person for h in roster.holders("duty_officer", row.unit_id, now)]
            row.asked_at = now
            if not officers:
                _lapse(session, roster, rules, row, now, "(nobody on duty)")
                continue
            person = officers[0]
            row.person_id, row.state = person.id, "asked"
            row.next_at = now + rules.answer_within
            tell_people(
                session, [person], "spot_check", _values(roster, row, rules, person.name), now
            )
        else:
            name = roster.people[row.person_id].name if row.person_id in roster.people else "?"
            _lapse(session, roster, rules, row, now, name)
    return len(rows)


def _lapse(
    session: AsyncSession,
    roster: Roster,
    rules: SpotCheckRules,
    row: SpotCheckRow,
    now: datetime,
    name: str,
) -> None:
    row.state = "lapsed"
    leaders = [h.person for h in roster.holders("leader_on_shift", row.unit_id, now)]
    row.leader_told = ",".join(p.id for p in leaders)[:200] or None
    tell_people(session, leaders, "spot_check_lapsed", _values(roster, row, rules, name), now)


async def answer_spot_check(
    session: AsyncSession, person_id: str, now: datetime, *, via: str
) -> SpotCheckRow | None:
    """The person's open check answered now, if they have one."""
    row = await open_check_of(session, person_id)
    if row is None:
        return None
    row.state, row.answered_at, row.answered_via = "answered", now, via
    return row
