"""Planning spot-checks inside shifts, asking, answering, lapsing; monthly figures. The
subject's own rows; telling people is the flows' part."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.roster.roster import Roster
from service.spotchecks.tables import SpotCheckRow
from service.store.database import is_postgres

PLAN_AHEAD = timedelta(hours=36)


@dataclass(frozen=True)
class SpotCheckRules:
    per_shift: int = 0  # 0: no spot-checks
    units: tuple[str, ...] = ()  # empty: every unit
    quiet: tuple[time, time] | None = None  # e.g. 00:00–06:00 in the unit's zone
    answer_within: timedelta = timedelta(minutes=10)


def rules_from_settings(settings: Settings) -> SpotCheckRules:
    return SpotCheckRules(
        per_shift=settings.spot_checks_per_shift,
        units=tuple(u.strip() for u in settings.spot_check_units.split(",") if u.strip()),
        quiet=parse_quiet(settings.spot_check_quiet_hours),
        answer_within=timedelta(minutes=settings.spot_check_answer_minutes),
    )


def parse_quiet(text: str) -> tuple[time, time] | None:
    """ "00:00-06:00" → (00:00, 06:00); "" → None."""
    if not text.strip():
        return None
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end


def _quiet(at: datetime, quiet: tuple[time, time] | None) -> bool:
    if quiet is None:
        return False
    start, end, now = quiet[0], quiet[1], at.time()
    return start <= now < end if start <= end else (now >= start or now < end)


def moments(
    start: datetime,
    end: datetime,
    count: int,
    quiet: tuple[time, time] | None,
    zone: object,
    rng: random.Random,
) -> list[datetime]:
    """`count` random moments in [start, end), none in the quiet hours of the unit's zone."""
    chosen: list[datetime] = []
    span = (end - start).total_seconds()
    for _ in range(count * 50):
        if len(chosen) == count or span <= 0:
            break
        at = start + timedelta(seconds=rng.uniform(0, span))
        if not _quiet(at.astimezone(zone), quiet):  # type: ignore[arg-type]
            chosen.append(at.replace(microsecond=0))
    return sorted(chosen)


async def plan_checks(
    session: AsyncSession, roster: Roster, rules: SpotCheckRules, now: datetime, rng: random.Random
) -> int:
    """Plan the checks of every shift starting in the next 36 hours not yet planned."""
    if rules.per_shift <= 0:
        return 0
    units = rules.units or tuple(roster.units)
    planned = 0
    for unit_id in units:
        zone = roster.unit(unit_id).zone
        for stretch in roster.assignments(
            unit_id, "duty_officer", now, now + PLAN_AHEAD, clip=False
        ):
            if stretch.end <= now:
                continue
            known = await session.scalar(
                select(SpotCheckRow.id).where(
                    SpotCheckRow.unit_id == unit_id, SpotCheckRow.shift_start == stretch.start
                )
            )
            if known is not None:
                continue
            begin = max(stretch.start, now)
            for number, at in enumerate(
                moments(begin, stretch.end, rules.per_shift, rules.quiet, zone, rng), 1
            ):
                session.add(
                    SpotCheckRow(
                        unit_id=unit_id,
                        shift_start=stretch.start,
                        number=number,
                        planned_at=at,
                        next_at=at,
                        state="planned",
                    )
                )
                planned += 1
    return planned


async def due_checks(session: AsyncSession, now: datetime, limit: int) -> list[SpotCheckRow]:
    query = (
        select(SpotCheckRow)
        .where(SpotCheckRow.state.in_(["planned", "asked"]), SpotCheckRow.next_at <= now)
        .order_by(SpotCheckRow.next_at)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def open_check_of(session: AsyncSession, person_id: str) -> SpotCheckRow | None:
    """The check this person has been asked and not yet answered (the latest)."""
    query = (
        select(SpotCheckRow)
        .where(SpotCheckRow.person_id == person_id, SpotCheckRow.state == "asked")
        .order_by(SpotCheckRow.asked_at.desc())
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update()
    return await session.scalar(query)


@dataclass
class MonthFigures:
    unit: str
    checks: int = 0
    answered: int = 0
    lapses: int = 0
    answer_seconds: list[float] = field(default_factory=list)
    lapsed_people: list[str] = field(default_factory=list)

    @property
    def median_answer_seconds(self) -> float | None:
        return statistics.median(self.answer_seconds) if self.answer_seconds else None


async def month_figures(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    unit: str | None = None,
    *,
    counts_only: bool = False,
) -> list[MonthFigures]:
    """Per unit (or only `unit`), the checks asked in [start, end): answered, median answer
    time, lapses. With `counts_only`, only the three counts, counted in the database (no
    answer times, no lapsed people)."""
    asked = (
        SpotCheckRow.asked_at >= start,
        SpotCheckRow.asked_at < end,
        SpotCheckRow.state.in_(["answered", "lapsed", "asked"]),
        *([SpotCheckRow.unit_id == unit] if unit is not None else []),
    )
    if counts_only:
        answered = and_(SpotCheckRow.state == "answered", SpotCheckRow.answered_at.is_not(None))
        counted = await session.execute(
            select(
                SpotCheckRow.unit_id,
                func.count(),
                func.sum(case((answered, 1), else_=0)),
                func.sum(case((SpotCheckRow.state == "lapsed", 1), else_=0)),
            )
            .where(*asked)
            .group_by(SpotCheckRow.unit_id)
        )
        return [MonthFigures(u, n, int(a), int(lapsed)) for u, n, a, lapsed in sorted(counted)]
    figures: dict[str, MonthFigures] = {}
    rows = await session.scalars(select(SpotCheckRow).where(*asked))
    for row in rows:
        entry = figures.setdefault(row.unit_id, MonthFigures(row.unit_id))
        entry.checks += 1
        if row.state == "answered" and row.answered_at and row.asked_at:
            entry.answered += 1
            entry.answer_seconds.append((row.answered_at - row.asked_at).total_seconds())
        elif row.state == "lapsed":
            entry.lapses += 1
            entry.lapsed_people.append(row.person_id or "(nobody on duty)")
    return [figures[u] for u in sorted(figures)]
