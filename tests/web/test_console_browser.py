"""The console in a real browser (Debian's Chromium, driven by Playwright) against a
started daemon served over HTTP: a county duty officer and the leader on shift work an
incident through, each in their own browser context, and see each other's work live."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from service.auth import accounts
from service.auth.policy import Grant
from service.auth.tokens import Role
from service.catalog import Level
from service.clock import FrozenClock
from service.flows.replies import handle_sms_reply
from service.incidents.models import IncidentReport
from service.notify.queue import messages_for_incident
from tests.api_helpers import api_client
from tests.conftest import REPO, Daemon
from tests.engine_helpers import flood_report, report
from tests.web.browser import launch_browser
from tests.web.console_helpers import PASSWORD, make_account
from tests.web.served import serve_console

SCREENSHOTS = REPO / "docs" / "screenshots"
LIVE = 5_000  # ms: a change reaches another console well within this
ORDERED = 2_000  # ms: and the board is in order again within this


async def log_in(context: BrowserContext, base: str, person: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{base}/console")
    await expect(page).to_have_url(f"{base}/console/login?next=/console")
    await page.get_by_label("账号").fill(person)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page).to_have_url(f"{base}/console")
    return page


async def with_password(daemon: Daemon, person: str, *grants: Grant) -> None:
    dutyd = daemon.dutyd
    await make_account(dutyd, person, *grants)
    async with dutyd.sessions.begin() as session:
        accounts.set_password(await accounts.require_account(session, person), PASSWORD)


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


async def test_an_incident_worked_from_two_consoles(
    daemon: Daemon, clock: FrozenClock, tmp_path: Path
) -> None:
    dutyd = daemon.dutyd
    await with_password(daemon, "sun_li", Grant(Role.duty_officer, "qingshan"))
    await with_password(daemon, "zhou_jun", Grant(Role.leader, "qingshan"))
    await with_password(daemon, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    await with_password(daemon, "zhao_min", Grant(Role.viewer))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        officer_context = await browser.new_context(viewport={"width": 1280, "height": 900})
        leader_context = await browser.new_context(viewport={"width": 1280, "height": 900})
        officer = await log_in(officer_context, base, "sun_li")
        leader = await log_in(leader_context, base, "zhou_jun")
        await expect(leader.locator("#no-incidents")).to_be_visible()

        # The officer logs a call (接报登记); the leader's board shows it without a reload.
        await officer.get_by_role("link", name="接报登记").first.click()
        await officer.get_by_label("事件类别").select_option("natural_disaster")
        await officer.get_by_label("事件类型").select_option("flood")
        await officer.get_by_label("级别").select_option("II")
        await officer.get_by_label("标题").fill("青山河石门段水位超警戒0.6米")
        await officer.get_by_label("地点").fill("石门村")
        await officer.get_by_label("报告人", exact=True).fill("王建国")
        await officer.get_by_label("联系电话").fill("0571-66012345")
        await officer.get_by_label("接报方式").select_option("phone")
        await officer.get_by_label("已采取措施").fill("已通知沿河两岸群众转移")
        refetched: list[str] = []  # the leader's board must not refetch itself to see it
        leader.on(
            "request", lambda r: refetched.append(r.url) if "/console/board" in r.url else None
        )
        await officer.get_by_role("button", name="保存").click()
        await expect(officer.locator("h1")).to_contain_text("青山河石门段水位超警戒")
        incident_url = officer.url
        incident_id = int(incident_url.rsplit("/", 1)[1])
        row = leader.locator(f"#incident-{incident_id}")
        await expect(row).to_be_visible(timeout=LIVE)
        await expect(row.locator(".ack .alert")).to_be_visible()
        assert refetched == [], refetched  # it came in the event itself
        await shoot(leader, "board.png")

        # An acknowledgement by SMS from a person paged turns the row on the leader's board.
        await dutyd.tick()
        async with dutyd.sessions.begin() as session:
            paged = (await messages_for_incident(session, incident_id))[0]
            person = dutyd.runtime.roster.people[paged.person_id]
            number = next(c.address for c in person.contacts if c.channel.value == "sms")
            answer = await handle_sms_reply(
                session,
                dutyd.runtime.roster,
                dutyd.runtime.plans,
                sender=number,
                body=f"1 {incident_id}",
                now=clock.now(),
            )
        assert answer.acted, answer
        await expect(row.locator(".status")).to_have_text("已确认", timeout=LIVE)
        await expect(row.locator(".ack")).to_have_text("✓")

        # The officer makes the initial report from the incident page.
        await officer.reload()
        initial = officer.locator("tr.duty[data-kind=initial]")
        await initial.get_by_role("textbox").fill("电话初报市总值班室：水位超警戒0.6米")
        await initial.get_by_role("button", name="报送").click()
        await expect(officer.locator("tr.duty[data-kind=initial]")).to_contain_text("已报")
        await shoot(officer, "incident.png")

        # The written report's countdown: amber before, red and counting up once late.
        countdown = row.locator(".countdown")
        await expect(countdown).to_contain_text("剩余", timeout=LIVE)
        clock.advance(timedelta(minutes=61))  # (sessions idle out after 2 hours)
        await dutyd.tick()  # records the written report late (迟报): a change on the board
        await expect(countdown).to_have_class("countdown overdue", timeout=LIVE)
        await expect(countdown).to_contain_text("已逾期")

        # A swap asked for by the officer, approved by the leader.
        await officer.goto(f"{base}/console/roster?unit=qingshan&month=2026-07")
        form = officer.locator("#override-form")
        await form.get_by_label("开始").fill("2026-07-21T08:30")  # 孙丽's shift by rotation
        await form.get_by_label("结束").fill("2026-07-22T08:30")
        await form.get_by_label("人员").select_option("liu_yang")
        await form.get_by_label("替换").select_option("sun_li")
        await form.get_by_label("理由").fill("孙丽参加防汛培训")
        await form.get_by_role("button", name="申请调班/替班").click()
        pending = officer.locator(".override")
        await expect(pending).to_contain_text("孙丽参加防汛培训")
        await expect(pending.get_by_role("button", name="批准")).to_have_count(0)
        await leader.goto(f"{base}/console/roster?unit=qingshan&month=2026-07")
        await leader.locator(".override").get_by_role("button", name="批准").click()
        await expect(leader.locator(".override")).to_have_count(0)
        day = leader.locator('[data-day="2026-07-21"] .duty-officer')
        await expect(day).to_contain_text("刘洋")
        await expect(day).not_to_contain_text("孙丽")
        await shoot(leader, "roster.png")

        # Handover (交接班): the open incident listed; the incoming officer confirms.
        await officer.reload()
        await officer.get_by_label("交班事项").fill("石门段仍需每小时巡查")
        await officer.get_by_role("button", name="交班").click()
        handover = officer.locator(".handover").first
        await expect(handover).to_contain_text("青山河石门段水位超警戒")
        incoming = await log_in(await browser.new_context(), base, "liu_yang")
        await incoming.goto(f"{base}/console/roster?unit=qingshan")
        await incoming.get_by_role("button", name="接班确认").click()
        await expect(incoming.locator(".handover").first).to_contain_text("✓ 刘洋")

        # A form without its CSRF token, and an action the role does not allow: refused.
        await officer.goto(incident_url)
        await officer.evaluate(
            "document.querySelectorAll('#escalate').forEach(b => "
            "b.form.querySelector('[name=csrf]').remove())"
        )
        await officer.locator("#escalate").click()
        await expect(officer.locator(".error")).to_contain_text("security token")
        viewer = await log_in(await browser.new_context(), base, "zhao_min")
        await viewer.goto(incident_url)
        await expect(viewer.locator("#ack")).to_have_count(0)  # not offered
        status = await viewer.evaluate(
            """async (csrf) => (await fetch(location.pathname + '/ack', {method: 'POST',
               headers: {'Content-Type': 'application/x-www-form-urlencoded'},
               body: 'csrf=' + csrf})).status""",
            await viewer.locator('meta[name="csrf-token"]').get_attribute("content"),
        )
        assert status == 403

        # The wall display, then logging out.
        await leader.goto(f"{base}/console/wall")
        await expect(leader.locator(f"#incident-{incident_id}")).to_be_visible()
        await shoot(leader, "wall.png")
        await officer.goto(f"{base}/console")
        await officer.get_by_role("button", name="退出").click()
        await expect(officer).to_have_url(f"{base}/console/login")
        await officer.goto(f"{base}/console")
        await expect(officer).to_have_url(f"{base}/console/login?next=/console")


async def test_keyboard_alone_and_a_phone_screen(daemon: Daemon) -> None:
    """Logged in and an incident logged with the keyboard only, on a phone-sized screen,
    and no page wider than the screen."""
    dutyd = daemon.dutyd
    await with_password(daemon, "he_jing", Grant(Role.duty_officer, "hexi"))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        phone = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await phone.new_page()
        await page.goto(f"{base}/console")
        await page.keyboard.type("he_jing")  # the name field has the focus
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{base}/console")
        for path in ("/console", "/console/incidents/new", "/console/roster", "/console/plans"):
            await page.goto(f"{base}{path}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
        await page.goto(f"{base}/console/incidents/new")
        await page.get_by_label("事件类别").focus()
        await page.keyboard.press("Tab")  # event type: the first of the category
        await page.keyboard.press("Tab")  # level
        await page.keyboard.press("Tab")  # unit: hexi, the only one in scope
        await page.keyboard.press("Tab")
        await page.keyboard.type("河西县城区内涝")
        await page.keyboard.press("Enter")
        await expect(page.locator("h1")).to_contain_text("河西县城区内涝")
        await shoot(page, "phone-incident.png")


def flood(level: Level, title: str, unit: str = "qingshan") -> IncidentReport:
    return flood_report(unit, title).model_copy(update={"level": level})


async def open_live(page: Page, url: str, fragment: str) -> None:
    """Open a board or the wall once its live stream is connected: connecting fetches the
    board once, and only what comes after must arrive in the stream's events."""
    async with page.expect_response(lambda r: r.url.endswith(fragment)):
        await page.goto(url)


async def expect_order(page: Page, *ids: int) -> None:
    """The incident rows, top to bottom, within ORDERED."""
    rows = page.locator("#open-incidents > [data-urgency]")
    await expect(rows).to_have_count(len(ids), timeout=ORDERED)
    for place, incident_id in enumerate(ids):
        await expect(rows.nth(place)).to_have_id(f"incident-{incident_id}", timeout=ORDERED)


def board_fetches(*pages: Page) -> list[str]:
    """The whole-board fetches the pages make from now on."""
    fetched: list[str] = []
    for page in pages:
        page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/board") else None)
    return fetched


async def test_a_new_incident_takes_its_place_at_once(daemon: Daemon) -> None:
    """On the board and the wall, a new incident's row goes where the server's order puts
    it, at once, not at the next refresh of the whole board."""
    dutyd = daemon.dutyd
    await with_password(daemon, "zhou_jun", Grant(Role.leader, "qingshan"))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        board = await log_in(context, base, "zhou_jun")
        await open_live(board, f"{base}/console", "/console/board")
        wall = await context.new_page()
        await open_live(wall, f"{base}/console/wall", "/console/wall/board")
        fetched = board_fetches(board, wall)

        minor = await report(dutyd, flood(Level.IV, "青山河支流水位上涨"))
        for page in (board, wall):
            await expect_order(page, minor)
        major = await report(dutyd, flood(Level.I, "青山水库溃坝险情"))
        for page in (board, wall):
            await expect_order(page, major, minor)
        middle = await report(dutyd, flood(Level.III, "石门村进水"))  # not at the top
        for page in (board, wall):
            await expect_order(page, major, middle, minor)
        assert fetched == [], fetched  # in order from the events alone


async def test_a_row_moves_up_as_it_becomes_more_urgent(daemon: Daemon, clock: FrozenClock) -> None:
    """A level raised moves the row up at once, the keyboard focus staying in it; a report
    deadline passing moves its row to the top as its countdown turns red, between two
    updates from the server."""
    dutyd = daemon.dutyd
    await with_password(daemon, "zhao_min", Grant(Role.viewer))
    api = await api_client(dutyd, Role.admin)
    acked = await report(dutyd, flood(Level.II, "青山河石门段水位超警戒"))  # initial in 30 min
    assert (await api.post(f"/api/v1/incidents/{acked}/ack")).status_code == 200
    clock.advance(timedelta(minutes=20))
    other = await report(dutyd, flood(Level.II, "河西县城区内涝", unit="hexi"))
    minor = await report(dutyd, flood(Level.IV, "青山河支流水位上涨"))
    async with serve_console(dutyd) as base, launch_browser() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        board = await log_in(context, base, "zhao_min")
        await board.clock.install()  # the browser's clock, moved on below
        await open_live(board, f"{base}/console", "/console/board")
        await expect_order(board, other, minor, acked)  # acknowledged: last
        fetched = board_fetches(board)

        link = board.locator(f"#incident-{minor} a").first
        await link.focus()
        raised = await api.post(
            f"/api/v1/incidents/{minor}/level", json={"level": "I", "reason": "险情扩大"}
        )
        assert raised.status_code == 200, raised.text
        await expect_order(board, minor, other, acked)
        await expect(link).to_be_focused()

        # 10 minutes on, the acknowledged one's initial report is late: to the top, though
        # nothing changed on the server to tell the board.
        due = await board.locator(f"#incident-{acked}").get_attribute("data-urgency-at")
        assert due is not None
        late = datetime.fromisoformat(due) - clock.now() + timedelta(seconds=1)
        clock.advance(late)  # (with no change that the board would hear of)
        now = await board.evaluate("Date.now() / 1000")  # seconds, as Playwright takes them
        await board.clock.set_system_time(now + late.total_seconds())
        await expect(board.locator(f"#incident-{acked} .countdown")).to_have_class(
            "countdown overdue", timeout=ORDERED
        )
        await expect_order(board, acked, minor, other)
        await expect(link).to_be_focused()
        assert fetched == [], fetched

        # The whole board fetched again (every 30 s) keeps the focus where it was too.
        async with board.expect_response(lambda r: r.url.endswith("/console/board")):
            await board.evaluate("htmx.trigger('#board', 'sse:changed')")
        await expect_order(board, acked, minor, other)
        await expect(link).to_be_focused()
    await api.aclose()
