"""A drill from the console in a real browser: a leader starts a drill of the Qingshan
flood plan with the office director playing the duty officer, the drill's incident says
it is a drill, the first messages go out marked, the report lists them line by line, its
PDF downloads, and the drill is ended."""

from __future__ import annotations

from playwright.async_api import expect
from pypdf import PdfReader

from service.auth.policy import Grant
from service.auth.tokens import Role
from tests.conftest import Daemon
from tests.web.browser import launch_browser
from tests.web.served import serve_console
from tests.web.test_console_browser import log_in, with_password


async def test_a_drill_started_read_and_ended_in_the_console(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    assert daemon.transport is not None
    await with_password(daemon, "zhou_jun", Grant(Role.leader, "qingshan"))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        leader = await log_in(await browser.new_context(accept_downloads=True), base, "zhou_jun")
        await leader.get_by_role("link", name="演练").first.click()
        await expect(leader.locator("#drill-list")).to_contain_text("尚无演练")
        await leader.locator("#drill-plan").select_option("qingshan-flood")
        await leader.locator("#drill-level").select_option("II")
        await leader.locator("#cast-duty_officer").select_option("zheng_hao")
        await leader.get_by_label("演练情景").fill("模拟青山河水位超警戒")
        await leader.get_by_role("button", name="启动演练").click()
        await expect(leader.locator("h1")).to_contain_text("青山县防汛应急预案演练")
        await dutyd.tick()
        await leader.reload()
        lines = leader.locator("#drill-lines tbody tr")
        await expect(lines.first).to_contain_text("第1步")
        await expect(leader.locator("#drill-lines")).to_contain_text("郑浩")
        assert all(m.body.startswith("【演练】") for m in daemon.transport.sent)

        async with leader.expect_download() as download_info:
            await leader.locator("#drill-pdf").click()
        download = await download_info.value
        pdf = PdfReader(str(await download.path()))
        assert "第1步" in pdf.pages[0].extract_text()

        await leader.locator("#drill-incident").click()
        await expect(leader.locator("#drill-banner")).to_contain_text("这是演练")
        await leader.go_back()
        leader.once("dialog", lambda dialog: dialog.accept())
        await leader.get_by_role("button", name="结束演练").click()
        await expect(leader.locator("main")).to_contain_text("已结束")
        await expect(leader.get_by_role("button", name="结束演练")).to_have_count(0)
