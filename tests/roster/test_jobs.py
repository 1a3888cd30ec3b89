"""Shift reminders and the daily gap warning: each happens once, across processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.clock import FrozenClock
from service.notify.tables import MessageRow
from tests.engine_helpers import count, start_dutyd


async def test_reminders_before_each_shift_once(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Everyone starting a shift within the window is reminded once, by two processes together."""
    a, transport = await start_dutyd(tmp_path, database_url, clock, worker="a")
    b, _ = await start_dutyd(tmp_path, database_url, clock, worker="b")
    try:
        # 10:00 Shanghai: the next shifts start tomorrow 08:30 (Hexi 09:00), within 24 hours.
        a.settings.shift_reminder_hours = b.settings.shift_reminder_hours = 24
        queued = await asyncio.gather(a.remind_shifts(), b.remind_shifts())
        expected = sum(
            1
            for unit in a.runtime.roster.units
            for role in ("duty_officer", "leader_on_shift")
            for shift in a.runtime.roster.assignments(
                unit, role, clock.now(), clock.now() + timedelta(hours=24), clip=False
            )
            if clock.now() < shift.start
        )
        assert sum(queued) == expected > 0
        assert await a.remind_shifts() == 0
        await a.tick()
        reminders = [m for m in transport.sent if "值班提醒" in m.body]
        assert len(reminders) == expected
        assert any("+8613800001101" == m.address for m in reminders)  # Liu Yang, Qingshan, tomorrow
    finally:
        await a.stop()
        await b.stop()


async def test_daily_check_warns_the_duty_office_once(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """With a gap ahead, the city's duty office (its duty officer and leader on shift) and
    its office director are told, once a day."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "defaults:\n  leader_on_shift: {min_rank: 9}\nwarn_days_ahead: 3\n", encoding="utf-8"
    )
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, duty_rules_file=rules)
    try:
        assert await dutyd.check_roster_ahead() == 3
        assert await dutyd.check_roster_ahead() == 0
        await dutyd.tick()
        warned = sorted(m.address for m in transport.sent)
        # 李娜 on duty, 陈刚 the leader on shift, 赵敏 the director
        assert warned == ["+8613800000102", "+8613800000202", "+8613800000301"]
        assert "排班预警" in transport.sent[0].body
        clock.advance(timedelta(days=1))
        assert await dutyd.check_roster_ahead() == 3
        assert await count(dutyd, MessageRow) == 6
    finally:
        await dutyd.stop()


DECEMBER_30 = datetime(2026, 12, 30, 1, 0, tzinfo=UTC)


async def test_daily_check_tells_of_a_missing_holiday_calendar(
    tmp_path: Path, database_url: str
) -> None:
    """On 30 December, with no 2027 calendar and no other gap ahead: told."""
    clean, told = await start_dutyd(tmp_path, database_url, FrozenClock(DECEMBER_30))
    try:
        assert await clean.check_roster_ahead() == 3  # the sample roster has no other gap
        await clean.tick()
        assert "no public holiday calendar for 2027" in told.sent[0].body
    finally:
        await clean.stop()


async def test_daily_check_names_real_gaps_before_a_missing_holiday_calendar(
    tmp_path: Path, database_url: str
) -> None:
    """On 30 December, with no 2027 calendar: a real gap ahead is named first."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults:\n  leader_on_shift: {min_rank: 9}\n", encoding="utf-8")
    gappy, transport = await start_dutyd(
        tmp_path, database_url, FrozenClock(DECEMBER_30), duty_rules_file=rules
    )
    try:
        assert await gappy.check_roster_ahead() == 3
        await gappy.tick()
        body = transport.sent[0].body
        assert "leader" in body and "holiday calendar" not in body
    finally:
        await gappy.stop()
