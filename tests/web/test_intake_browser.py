"""Machines and the duty mailbox in the console, in a real browser: the sources listed
with a silent heartbeat marked, a mail sent by SMTP confirmed as an incident with the
record corrected, another dismissed with its reason."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
from playwright.async_api import expect
from sqlalchemy import select

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.incidents.tables import IncidentRow
from service.intake.mailbox import MailHandler, MailListener
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.fakes.smtp import free_port
from tests.intake.test_mail_in import mail
from tests.web.browser import launch_browser
from tests.web.served import serve_console
from tests.web.test_console_browser import log_in, with_password


async def test_sources_and_mail_in_the_console(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    port = free_port()
    handler = MailHandler(
        "duty_mailbox", dutyd.intake_writer.store, dutyd.clock, dutyd.settings.data_dir / "att"
    )
    listener = MailListener(handler, "127.0.0.1", port)
    await listener.start()
    try:
        report = b"%PDF-1.4 water level report"
        await aiosmtplib.send(
            mail("青山水库超汛限", attachment=report), hostname="127.0.0.1", port=port
        )
        await aiosmtplib.send(mail("会议通知"), hostname="127.0.0.1", port=port)
    finally:
        await listener.stop()
    gauge = await api_client(dutyd, Role.source, "rain-gauge-r3")
    assert (await gauge.post("/api/v1/intake/heartbeat")).status_code == 200
    dutyd.clock.advance(timedelta(minutes=15))  # longer than its 10 minutes
    await with_password(daemon, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        officer = await log_in(await browser.new_context(), base, "liu_yang")
        await officer.get_by_role("link", name="系统接报").click()
        await expect(officer.locator("#source-rain_gauge_r3")).to_contain_text("心跳中断")
        await expect(officer.locator("#source-alertmanager")).to_be_visible()
        drafts = officer.locator(".mail-draft")
        await expect(drafts).to_have_count(2)
        first = drafts.filter(has_text="青山水库超汛限")
        await expect(first).to_contain_text("水情报告.pdf")
        await first.get_by_label("事件类别", exact=False).select_option("natural_disaster")
        await first.get_by_label("事件类型", exact=False).select_option("flood")
        await first.get_by_label("级别", exact=False).select_option("III")
        await first.get_by_role("textbox").first.fill("青山水库水位超汛限0.3米")
        await first.get_by_role("button", name="确认为事件").click()
        await expect(officer.locator("h1")).to_contain_text("青山水库水位超汛限0.3米")

        await officer.get_by_role("link", name="系统接报").click()
        other = officer.locator(".mail-draft").filter(has_text="会议通知")
        await other.get_by_role("button", name="不予立案").click()
        await expect(officer.locator("#intake-error")).to_contain_text("say why")
        other = officer.locator(".mail-draft").filter(has_text="会议通知")
        await other.get_by_placeholder("理由").fill("会议通知，非突发事件")
        await other.get_by_role("button", name="不予立案").click()
        await expect(officer.locator(".mail-draft")).to_have_count(0)
    async with dutyd.reads() as session:
        incident = await session.scalar(select(IncidentRow).order_by(IncidentRow.id.desc()))
        states = {
            r.labels["subject"]: r.state
            for r in await session.scalars(
                select(MachineReportRow).where(MachineReportRow.source == "duty_mailbox")
            )
        }
    assert incident is not None and incident.level == "III" and incident.received_via == "email"
    assert any(a.endswith("水情报告.pdf") for a in incident.attachments)
    assert states == {"青山水库超汛限": "done", "会议通知": "dismissed"}
    await gauge.aclose()
