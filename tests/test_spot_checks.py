"""Duty spot-checks (查岗): planned at random moments of each shift outside quiet hours,
asked of the duty officer on shift, answered by SMS reply, lapsed to the leader on shift
when unanswered; the month's figures per unit."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.flows.replies import handle_sms_reply
from service.spotchecks.service import plan_checks, rules_from_settings
from service.spotchecks.tables import SpotCheckRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.web.console_helpers import console_client


@pytest.fixture
def daemon_settings() -> dict[str, Any]:
    return {"spot_checks_per_shift": 2, "spot_check_units": "qingshan"}


async def test_checks_are_asked_answered_and_lapsed(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    rules = rules_from_settings(dutyd.settings)
    async with dutyd.sessions.begin() as session:
        planned = await plan_checks(
            session, dutyd.runtime.roster, rules, dutyd.clock.now(), random.Random(7)
        )
    assert planned >= 2 and planned % 2 == 0
    async with dutyd.sessions.begin() as session:  # planned once per shift
        again = await plan_checks(
            session, dutyd.runtime.roster, rules, dutyd.clock.now(), random.Random(8)
        )
    assert again == 0
    async with dutyd.sessions() as session:
        checks = list(await session.scalars(select(SpotCheckRow).order_by(SpotCheckRow.planned_at)))
    assert {c.unit_id for c in checks} == {"qingshan"}

    # The first comes due: its duty officer is asked, and answers "1" by SMS.
    assert daemon.transport is not None
    dutyd.clock.advance(checks[0].planned_at - dutyd.clock.now() + timedelta(seconds=1))
    await dutyd.engine.run_due()
    asked = [m for m in daemon.transport.sent if "【查岗】" in m.body]
    assert len(asked) == 1
    officer = dutyd.runtime.roster.people[asked[0].person_id]
    number = next(c.address for c in officer.contacts if c.channel.value == "sms")
    dutyd.clock.advance(timedelta(minutes=3))
    async with dutyd.sessions.begin() as session:
        reply = await handle_sms_reply(
            session,
            dutyd.runtime.roster,
            dutyd.runtime.plans,
            sender=number,
            body="1",
            now=dutyd.clock.now(),
        )
    assert reply.acted and "查岗" in reply.text

    # The second goes unanswered: a lapse, told to the leader on shift.
    dutyd.clock.advance(checks[1].planned_at - dutyd.clock.now() + timedelta(seconds=1))
    await dutyd.engine.run_due()
    dutyd.clock.advance(timedelta(minutes=11))
    await dutyd.engine.run_due()
    lapsed = [m for m in daemon.transport.sent if "【查岗未应答】" in m.body]
    assert lapsed and all(m.person_id != officer.id for m in lapsed)

    desk = await api_client(dutyd, Role.viewer, "desk")
    start = (checks[0].planned_at - timedelta(days=1)).isoformat()
    end = (dutyd.clock.now() + timedelta(days=1)).isoformat()
    figures = (
        await desk.get("/api/v1/spot-checks/figures", params={"from": start, "to": end})
    ).json()
    qingshan = figures[0]
    assert (qingshan["checks"], qingshan["answered"], qingshan["lapses"]) == (2, 1, 1)
    assert qingshan["median_answer_seconds"] == pytest.approx(180, abs=2)
    assert len(qingshan["lapsed_people"]) == 1
    await desk.aclose()

    # The console's page says the same, with the person who lapsed by name.
    console = await console_client(dutyd, "zhao_min", Grant(Role.viewer))
    month = checks[0].planned_at.astimezone(dutyd.runtime.roster.unit("qingshan").zone)
    shown = await console.get("/console/spot-checks", params={"month": f"{month:%Y-%m}"})
    row = shown.text.split('id="figures-qingshan"')[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    lapsed_name = dutyd.runtime.roster.people[qingshan["lapsed_people"][0]].name
    assert cells[:5] == ["青山县人民政府值班室", "2", "1", "3.0", "1"] and lapsed_name in cells[5]
    assert shown.text.count('class="check-') == 2
    await console.aclose()


def test_no_check_in_the_quiet_hours() -> None:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    from service.spotchecks.service import moments, parse_quiet

    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 7, 15, 8, 30, tzinfo=zone).astimezone(UTC)  # a 24 h shift
    quiet = parse_quiet("00:00-06:00")
    assert quiet == (time(0), time(6))
    chosen = moments(start, start + timedelta(hours=24), 200, quiet, zone, random.Random(1))
    assert len(chosen) == 200 and chosen == sorted(chosen)
    assert all(not (0 <= at.astimezone(zone).hour < 6) for at in chosen)
    overnight = parse_quiet("22:00-06:00")
    late = moments(start, start + timedelta(hours=24), 100, overnight, zone, random.Random(2))
    assert all(6 <= at.astimezone(zone).hour < 22 for at in late)
