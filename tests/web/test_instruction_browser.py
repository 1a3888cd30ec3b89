"""A leader's instruction in the console, in a real browser: written on the incident's
page as an assignment to the county, answered there by the county's duty officer, sent
back by the leader, answered again and accepted; the assignments page then shows the
month's closure rate."""

from __future__ import annotations

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


async def test_an_instruction_given_answered_sent_back_and_accepted(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    assert daemon.transport is not None
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await with_password(daemon, "wang_fang", Grant(Role.leader))
    await with_password(daemon, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    url = f"/console/incidents/{incident['id']}"
    async with serve_console(dutyd) as base, launch_browser() as browser:
        leader = await log_in(await browser.new_context(), base, "wang_fang")
        officer = await log_in(await browser.new_context(), base, "liu_yang")
        await leader.goto(base + url)
        form = leader.locator("#instruction-form")
        await form.get_by_label("批示内容").fill("立即组织沿河群众转移")
        await form.get_by_label("办理事项 1").fill("转移沿河群众并报人数")
        await leader.locator("#give-instruction").click()
        assignment = leader.locator(".assignment").first
        await expect(assignment).to_contain_text("转移沿河群众并报人数")
        await expect(assignment).to_contain_text("办理中")
        await dutyd.tick()
        assert any("【交办】" in m.body for m in daemon.transport.sent)

        # The officer has no instruction form, but answers the assignment.
        await officer.goto(base + url)
        await expect(officer.locator("#instruction-form")).to_have_count(0)
        await officer.get_by_placeholder("办理情况").fill("已转移120人")
        await officer.get_by_role("button", name="报送办理情况").click()
        await expect(officer.locator(".assignment").first).to_contain_text("已反馈待审核")

        await leader.reload()
        await leader.get_by_placeholder("意见").fill("请补报安置点")
        await leader.get_by_role("button", name="退回重办").click()
        await expect(leader.locator(".assignment").first).to_contain_text("请补报安置点")
        await officer.reload()
        await officer.get_by_placeholder("办理情况").fill("已转移120人，安置于镇中学")
        await officer.get_by_role("button", name="报送办理情况").click()
        await leader.reload()
        await leader.get_by_role("button", name="同意办结").click()
        await expect(leader.locator(".assignment").first).to_contain_text("已办结")

        await leader.get_by_role("link", name="督办事项").click()
        await expect(leader.locator("#open-assignments")).to_contain_text("无")
        await expect(leader.locator("#closure")).to_contain_text("100%")
    await desk.aclose()
