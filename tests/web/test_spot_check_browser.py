"""A spot-check (查岗) answered with a click at the console, in a real browser: the duty
officer asked sees the banner on whatever page is open, confirms, and the check is
recorded as answered from the console."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.spotchecks.service import plan_checks, rules_from_settings
from service.spotchecks.tables import SpotCheckRow
from tests.conftest import Daemon
from tests.web.browser import launch_browser
from tests.web.served import serve_console
from tests.web.test_console_browser import log_in, with_password


@pytest.fixture
def daemon_settings() -> dict[str, Any]:
    return {"spot_checks_per_shift": 1, "spot_check_units": "qingshan"}


async def test_a_spot_check_answered_at_the_console(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    async with dutyd.sessions.begin() as session:
        await plan_checks(
            session,
            dutyd.runtime.roster,
            rules_from_settings(dutyd.settings),
            dutyd.clock.now(),
            random.Random(3),
        )
    async with dutyd.reads() as session:
        first = await session.scalar(select(SpotCheckRow).order_by(SpotCheckRow.planned_at))
    assert first is not None
    dutyd.clock.advance(first.planned_at - dutyd.clock.now() + timedelta(seconds=1))
    await dutyd.engine.run_due()
    async with dutyd.reads() as session:
        asked = await session.get(SpotCheckRow, first.id)
    assert asked is not None and asked.state == "asked" and asked.person_id
    await with_password(daemon, asked.person_id, Grant(Role.duty_officer, "qingshan"))
    await with_password(daemon, "zhao_min", Grant(Role.viewer))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        other = await log_in(await browser.new_context(), base, "zhao_min")
        await other.goto(f"{base}/console/roster")
        officer = await log_in(await browser.new_context(), base, asked.person_id)
        await officer.goto(f"{base}/console/roster")  # any page shows it
        banner = officer.locator("#spot-check-banner")
        await expect(banner).to_contain_text("请确认您在岗")
        await expect(other.locator("#spot-check-form")).to_have_count(0)  # not theirs
        await banner.get_by_role("button", name="确认在岗").click()
        await expect(officer.locator("#spot-check-form")).to_have_count(0)
    async with dutyd.reads() as session:
        answered = await session.get(SpotCheckRow, first.id)
    assert answered is not None and answered.state == "answered"
    assert answered.answered_via == "console"
