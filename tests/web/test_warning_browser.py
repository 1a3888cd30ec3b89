"""A public warning from the console in a real browser: a drafter writes a red rainstorm
warning for two counties with the live preview beside the form, a second person sends it
through the green channel, every recipient's SMS goes out and the statistics show it, an
update changes it, and a lift (one click and its confirmation) ends it."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page, expect

from service.auth.policy import Grant
from service.auth.tokens import Role
from tests.conftest import Daemon
from tests.warnings.warning_helpers import load_recipients, recipients_csv
from tests.web.browser import launch_browser
from tests.web.served import serve_console
from tests.web.test_console_browser import LIVE, log_in, shoot, with_password

QINGSHAN, HEXI, ELSEWHERE = 5, 4, 2
POLLED = 8_000  # ms: the statistics fetch themselves every 3 s


async def deliver(daemon: Daemon) -> set[str]:
    """Run the engine until the paced SMS have all come due; the numbers sent to."""
    assert daemon.transport is not None
    daemon.transport.sent.clear()
    await daemon.dutyd.tick()
    daemon.dutyd.clock.advance(timedelta(minutes=1))
    await daemon.dutyd.tick()
    return {m.address for m in daemon.transport.sent if m.channel == "sms"}


def bodies(daemon: Daemon) -> list[str]:
    assert daemon.transport is not None
    return [m.body for m in daemon.transport.sent if m.channel == "sms"]


async def green_channel(signer: Page, url: str, reason: str) -> None:
    await signer.goto(url)
    await signer.get_by_label("绿色通道", exact=True).fill(reason)
    await signer.get_by_role("button", name="绿色通道立即发布").click()
    await expect(signer.locator("#stage")).to_have_text("已发布")


async def test_a_red_warning_drafted_sent_updated_and_lifted(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    await load_recipients(dutyd, recipients_csv(qingshan=QINGSHAN, hexi=HEXI, elsewhere=ELSEWHERE))
    await with_password(daemon, "liu_yang", Grant(Role.warning_drafter, "qingshan"))
    await with_password(daemon, "tang_hui", Grant(Role.warning_approver, "qingshan"))
    everyone = QINGSHAN + HEXI
    async with serve_console(dutyd) as base, launch_browser() as browser:
        drafter = await log_in(
            await browser.new_context(viewport={"width": 1366, "height": 900}), base, "liu_yang"
        )
        signer = await log_in(
            await browser.new_context(viewport={"width": 1280, "height": 900}), base, "tang_hui"
        )

        # The drafter writes it; the preview follows what is typed.
        await drafter.get_by_role("link", name="预警发布").click()
        await drafter.get_by_role("link", name="制作预警").click()
        await drafter.locator("#f-level").select_option("I")
        await expect(drafter.locator("#f-area_qingshan")).to_be_checked()
        await drafter.locator("#f-area_hexi").check()
        await drafter.get_by_label("中文标题").fill("青山县、河西县暴雨红色预警")
        await drafter.get_by_label("中文内容").fill("预计未来3小时内降雨量将达100毫米以上。")
        await drafter.get_by_label("中文防御指南").fill("立即停止户外活动，低洼地区人员转移。")
        await drafter.get_by_text("英文文本（可选）").click()
        await drafter.get_by_label("英文标题").fill("Red rainstorm warning for Qingshan and Hexi")
        await drafter.get_by_label("英文内容").fill("Over 100 mm of rain within 3 hours.")
        sms = drafter.locator("#preview p.sms[data-language='zh-CN']")
        await expect(sms).to_contain_text("【预警】青山县人民政府发布暴雨红色预警", timeout=LIVE)
        await expect(sms).to_contain_text("低洼地区人员转移", timeout=LIVE)
        await expect(drafter.locator("#preview p.sms[data-language='en-US']")).to_contain_text(
            "Red rainstorm warning"
        )
        await expect(drafter.locator("#cap-xml")).to_contain_text("<geocode>")
        await expect(drafter.locator("#cap-xml")).to_contain_text("339902")
        await expect(drafter.locator("#preview .ok")).to_be_visible()
        # A bad polygon is said in the preview at once, and beside its field on saving.
        await drafter.get_by_label("多边形").fill("30.1,120.1 30.2")
        await expect(drafter.locator("#preview .problems")).to_contain_text("多边形", timeout=LIVE)
        await drafter.get_by_role("button", name="保存草稿").click()
        await expect(drafter.locator("#e-polygon")).to_be_visible()
        await drafter.get_by_label("多边形").fill("")
        await expect(drafter.locator("#e-polygon")).to_be_hidden()  # changed: no longer said
        await expect(drafter.locator("#cap-xml")).to_be_visible(timeout=LIVE)
        await shoot(drafter, "warning-draft.png")
        await drafter.get_by_role("button", name="保存草稿").click()
        await expect(drafter.locator("#stage")).to_have_text("制作中")
        await expect(drafter.locator("header .level")).to_have_class("level level-red")
        alert_url = drafter.url
        await drafter.get_by_role("button", name="提交审核").click()
        await expect(drafter.locator("#stage")).to_have_text("审核中")
        await expect(drafter.locator("#review-count")).to_contain_text("0/2")
        await expect(drafter.locator("#sign, #publish-now")).to_have_count(0)

        # In the signer's queue; red goes through the green channel, reviewed after.
        await signer.get_by_role("link", name="预警发布").click()
        queued = signer.locator("#queue .warning-row")
        await expect(queued).to_have_count(1)
        await expect(queued).to_contain_text("待我审核")
        await green_channel(signer, alert_url, "特大暴雨已开始，来不及逐级审核")
        await expect(signer.locator("#green-flag")).to_contain_text("待事后审核")
        told = await deliver(daemon)
        assert len(told) == everyone, told  # both counties' recipients, nobody else
        assert not any(n.startswith("+86139200") for n in told)
        assert all("暴雨红色预警" in b for b in bodies(daemon))
        stats = signer.locator("#stats")
        await expect(stats.locator("#targeted")).to_have_text(str(everyone), timeout=POLLED)
        await expect(stats.locator("tr[data-channel=sms] .delivered")).to_have_text(
            str(everyone), timeout=POLLED
        )
        await expect(stats.locator("#last-hand-off")).to_contain_text(" s")

        # An update changes what it says; the same people hear it.
        await drafter.goto(alert_url)
        await drafter.get_by_role("link", name="制作更新").click()
        await drafter.get_by_label("中文标题").fill("青山县、河西县暴雨红色预警（更新）")
        await drafter.get_by_label("中文防御指南").fill("山洪风险极高，沿河村庄全部转移。")
        await expect(drafter.locator("#preview p.sms").first).to_contain_text("更新", timeout=LIVE)
        await drafter.get_by_role("button", name="保存更新草稿").click()
        await expect(drafter.locator("h1")).to_contain_text("（更新）")
        update_url = drafter.url
        await drafter.get_by_role("button", name="提交审核").click()
        await green_channel(signer, update_url, "雨势加剧，扩大转移范围")
        told = await deliver(daemon)
        assert len(told) == everyone, told
        assert all("沿河村庄全部转移" in b for b in bodies(daemon))
        versions = signer.locator("#versions li")
        await expect(versions).to_have_count(2)
        await expect(versions.nth(0)).to_contain_text("已被更新")

        # The lift: one click opens the confirmation, a second sends it.
        await signer.get_by_role("button", name="解除", exact=True).click()
        dialog = signer.locator("#lift-dialog")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("解除理由").fill("降雨已明显减弱，风险解除。")
        await dialog.get_by_role("button", name="确认解除").click()
        await expect(signer.locator("#stage")).to_have_text("已发布")
        await expect(signer.locator("h1")).to_contain_text("已解除")
        told = await deliver(daemon)
        assert len(told) == everyone, told
        assert all("解除" in b and "沿河村庄" not in b for b in bodies(daemon))
        await expect(signer.locator("#targeted")).to_have_text(str(everyone), timeout=POLLED)
        await expect(signer.locator("#lift")).to_have_count(0)

        # The original's page: its history, its three versions, its statistics.
        await signer.goto(alert_url)
        await expect(signer.locator("#versions li")).to_have_count(3)
        await expect(signer.locator("#versions li[data-kind=Cancel]")).to_contain_text("解除")
        await expect(signer.locator("#history")).to_contain_text("绿色通道签发")
        await expect(signer.locator("#targeted")).to_have_text(str(everyone))
        await signer.goto(f"{base}/console/warnings")
        await expect(signer.locator("#in-force .warning-row")).to_have_count(0)
        await expect(signer.locator("#recent .warning-row")).to_have_count(3)
        await signer.goto(alert_url)
        await shoot(signer, "warning.png")

        # On a phone: no page wider than the screen, the form usable.
        phone = await log_in(
            await browser.new_context(viewport={"width": 390, "height": 844}), base, "liu_yang"
        )
        for path in ("/console/warnings", "/console/warnings/new", alert_url.split(base)[1]):
            await phone.goto(f"{base}{path}")
            overflow = await phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
