"""The monthly duty report in a real browser: the month's table per unit, its three
charts drawn (each image decoded by the browser), the late reports listed, and the XLSX
downloaded from the page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from playwright.async_api import expect

from service.auth.policy import Grant
from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.web.browser import launch_browser
from tests.web.served import serve_console
from tests.web.test_console_browser import log_in, with_password

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "III",
    "unit": "qingshan",
    "title": "青山河水位上涨",
}


async def test_the_monthly_report_with_its_charts(daemon: Daemon, tmp_path: Path) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    logged = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    dutyd.clock.advance(timedelta(minutes=12))
    await desk.post(f"/api/v1/incidents/{logged['id']}/ack")
    dutyd.clock.advance(timedelta(hours=3))
    await dutyd.engine.run_due()
    await with_password(daemon, "zhao_min", Grant(Role.viewer))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        viewer = await log_in(await browser.new_context(accept_downloads=True), base, "zhao_min")
        await viewer.get_by_role("link", name="值班通报").click()
        await expect(viewer.locator("#figures-title")).to_contain_text("月值班通报")
        row = viewer.locator("#figures-units tbody tr", has_text="青山县人民政府值班室")
        await expect(row).to_contain_text("12.0")  # minutes to acknowledge
        for name in ("on_time", "ack", "hours"):
            chart = viewer.locator(f"#chart-{name}")
            await expect(chart).to_be_visible()
            drawn = await chart.evaluate("img => img.complete && img.naturalWidth")
            assert drawn > 500, (name, drawn)
        await expect(viewer.locator("#figures-late")).to_contain_text("漏报")
        async with viewer.expect_download() as download_info:
            await viewer.locator("#figures-xlsx").click()
        await (await download_info.value).save_as(tmp_path / "monthly.xlsx")
        book = load_workbook(tmp_path / "monthly.xlsx")
        assert book.sheetnames[:2] == ["各单位值班情况", "迟报、漏报情况"]
    await desk.aclose()
