"""The console in-process: logging in, the board, logging and working an incident,
with the CSRF check and the unit scope of each role."""

from __future__ import annotations

from datetime import timedelta

import httpx

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.clock import FrozenClock
from tests.conftest import Daemon
from tests.web.console_helpers import PASSWORD, console_client, csrf_of, make_account

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
    "reporter_name": "王建国",
    "received_via": "phone",
    "deaths": "0",
}


async def test_log_and_work_an_incident_from_the_console(
    daemon: Daemon, clock: FrozenClock
) -> None:
    dutyd = daemon.dutyd
    desk = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    board = await desk.get("/console")
    assert board.status_code == 200, board.text
    assert "青山县人民政府值班室" in board.text and "临江市人民政府总值班室" not in board.text
    form = await desk.get("/console/incidents/new")
    csrf = csrf_of(form.text)
    logged = await desk.post("/console/incidents/new", data={**FLOOD, "csrf": csrf})
    assert logged.status_code == 303, logged.text
    path = logged.headers["location"]
    page = await desk.get(path)
    assert "青山河水位超警戒" in page.text and "王建国" in page.text
    assert "plan_selected" in page.text or "qingshan-flood" in page.text

    # The same event type in the same unit again: offered as a duplicate first.
    again = await desk.post("/console/incidents/new", data={**FLOOD, "csrf": csrf})
    assert again.status_code == 409 and "duplicates" in again.text

    acked = await desk.post(f"{path}/ack", data={"csrf": csrf})
    assert acked.status_code == 303
    page = await desk.get(path)
    assert "确认收到，" in page.text  # the timeline's sentence, not the button
    made = await desk.post(
        f"{path}/report", data={"csrf": csrf, "kind": "initial", "content": "电话初报市总值班室"}
    )
    assert made.status_code == 303
    bad = await desk.post(f"{path}/level", data={"csrf": csrf, "level": "I", "reason": ""})
    assert bad.status_code == 422 and "reason" in bad.text
    supplement = await desk.post(
        f"{path}/report", data={"csrf": csrf, "kind": "supplement", "content": "失踪1人已找到"}
    )
    assert supplement.status_code == 303
    corrected = await desk.post(
        f"{path}/category",
        data={"csrf": csrf, "event_type": "natural_disaster/geological", "reason": "实为山体滑坡"},
    )
    assert corrected.status_code == 303, corrected.text
    page = (await desk.get(path)).text
    assert "补报" in page and "事件类型由自然灾害/洪涝灾害更正为自然灾害/地质灾害" in page
    replan = await desk.post(f"{path}/replan", data={"csrf": csrf})
    assert replan.status_code == 403  # leaders and admins re-plan
    await desk.aclose()


async def test_forms_need_the_csrf_token(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    refused = await desk.post("/console/incidents/new", data=FLOOD)
    assert refused.status_code == 403 and "security token" in refused.text
    forged = await desk.post("/console/incidents/new", data={**FLOOD, "csrf": "x" * 43})
    assert forged.status_code == 403
    await desk.aclose()


async def test_a_county_officer_acts_in_the_county_only(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    city = await console_client(dutyd, "li_na", Grant(Role.duty_officer, "linjiang"))
    form = await city.get("/console/incidents/new")
    hexi = await city.post(
        "/console/incidents/new",
        data={**FLOOD, "unit": "hexi", "title": "河西县内涝", "csrf": csrf_of(form.text)},
    )
    assert hexi.status_code == 303, hexi.text
    county = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    csrf = csrf_of((await county.get("/console/incidents/new")).text)
    page = await county.get(hexi.headers["location"])
    assert page.status_code == 403
    refused = await county.post(f"{hexi.headers['location']}/ack", data={"csrf": csrf})
    assert refused.status_code == 403 and "work_incident in hexi" in refused.text
    elsewhere = await county.post(
        "/console/incidents/new", data={**FLOOD, "unit": "hexi", "csrf": csrf}
    )
    assert elsewhere.status_code == 403
    viewer = await console_client(dutyd, "zhao_min", Grant(Role.viewer))
    assert "河西县内涝" in (await viewer.get("/console")).text
    csrf = csrf_of((await viewer.get(hexi.headers["location"])).text)
    assert (
        await viewer.post(f"{hexi.headers['location']}/ack", data={"csrf": csrf})
    ).status_code == 403
    for client in (city, county, viewer):
        await client.aclose()


async def test_login_lockout_and_session_expiry(daemon: Daemon, clock: FrozenClock) -> None:
    dutyd = daemon.dutyd
    await make_account(dutyd, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    async with dutyd.sessions.begin() as session:
        from service.auth.accounts import require_account, set_password

        set_password(await require_account(session, "liu_yang"), PASSWORD)
    app_client = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    transport = app_client._transport  # the same in-process app
    browser = httpx.AsyncClient(transport=transport, base_url="http://dutyd.test")

    async def attempt(password: str) -> httpx.Response:
        form = await browser.get("/console/login")
        return await browser.post(
            "/console/login",
            data={"login": "liu_yang", "password": password, "csrf": csrf_of(form.text)},
        )

    assert (await browser.get("/console")).status_code == 303  # to the login page
    for _ in range(5):
        assert (await attempt("wrong password!")).status_code == 401
    locked = await attempt(PASSWORD)  # right, but locked now
    assert locked.status_code == 401
    async with dutyd.sessions() as session:
        from sqlalchemy import func, select

        from service.auth.tables import LoginAttemptRow

        reasons = list(
            await session.scalars(
                select(LoginAttemptRow.reason).where(LoginAttemptRow.login == "liu_yang")
            )
        )
    assert reasons.count("wrong password") == 4 and reasons[-1] == "account locked"
    assert "locked until" in reasons[4]
    clock.advance(timedelta(minutes=16))
    assert (await attempt(PASSWORD)).status_code == 303
    assert (await browser.get("/console")).status_code == 200
    clock.advance(timedelta(minutes=121))  # idle past the limit
    assert (await browser.get("/console")).status_code == 303
    no_csrf = await browser.post("/console/login", data={"login": "liu_yang", "password": PASSWORD})
    assert no_csrf.status_code == 403
    await browser.aclose()
    await app_client.aclose()

    # The daily clean-up: a month after it ended a session goes; the record of attempts
    # stays for login_record_days, then goes too. sun_li's session still runs.
    assert await dutyd.forget_old_logins() == (0, 0)
    clock.advance(timedelta(days=31))
    assert (await dutyd.forget_old_logins())[0] >= 1
    async with dutyd.sessions() as session:
        from service.auth.tables import WebSessionRow

        left = list(await session.scalars(select(WebSessionRow.ended_at)))
        assert (await session.scalar(select(func.count()).select_from(LoginAttemptRow))) == 7
    clock.advance(timedelta(days=dutyd.settings.login_record_days))
    assert (await dutyd.forget_old_logins())[1] == 7
    assert left == []


async def test_what_a_path_names_decides_the_unit_not_the_form(daemon: Daemon) -> None:
    """A qingshan leader cannot reach a hexi incident by an odd spelling of its id with
    `unit=qingshan`, nor approve a hexi override or confirm a hexi handover by saying
    `unit=qingshan` in the form."""
    dutyd = daemon.dutyd
    city = await console_client(dutyd, "wang_fang", Grant(Role.leader))
    csrf = csrf_of((await city.get("/console/incidents/new")).text)
    hexi = await city.post(
        "/console/incidents/new",
        data={**FLOOD, "unit": "hexi", "title": "河西县内涝", "csrf": csrf},
    )
    incident = hexi.headers["location"]
    incident_id = incident.rsplit("/", 1)[1]
    await city.post(
        "/console/roster/overrides",
        data={
            "csrf": csrf,
            "unit": "hexi",
            "role": "duty_officer",
            "start": "2026-07-20T09:00",
            "end": "2026-07-21T09:00",
            "person": "cao_yu",
            "replaces": "he_jing",
        },
    )
    override = next(o for o in dutyd.runtime.roster.document.overrides if o.unit == "hexi")
    await city.post("/console/handover", data={"csrf": csrf, "unit": "hexi"})

    county = await console_client(dutyd, "zhou_jun", Grant(Role.leader, "qingshan"))
    csrf = csrf_of((await county.get("/console/incidents/new")).text)
    for odd in (f"+{incident_id}", f"{incident_id}.0", f" {incident_id}", f"{incident_id}_0"):
        page = await county.get(f"/console/incidents/{odd}", params={"unit": "qingshan"})
        assert page.status_code in (403, 404), (odd, page.status_code)
        acted = await county.post(
            f"/console/incidents/{odd}/ack", data={"csrf": csrf, "unit": "qingshan"}
        )
        assert acted.status_code in (403, 404), (odd, acted.status_code)
    approve = await county.post(
        f"/console/roster/overrides/{override.id}/approve", data={"csrf": csrf, "unit": "qingshan"}
    )
    assert approve.status_code == 403
    assert all(o.approved_by is None for o in dutyd.runtime.roster.document.overrides)
    confirm = await county.post(
        "/console/handover/1/confirm", data={"csrf": csrf, "unit": "qingshan"}
    )
    assert confirm.status_code == 403
    detail = (await city.get(incident)).text
    assert "确认收到，" not in detail
    await city.aclose()
    await county.aclose()


async def test_a_new_password_or_a_disabled_account_ends_sessions(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    assert (await desk.get("/console")).status_code == 200
    from service.auth import accounts

    async with dutyd.sessions.begin() as session:
        account = await accounts.require_account(session, "sun_li")
        await accounts.disable_account(session, account, dutyd.clock.now())
    dutyd.clock.advance(timedelta(seconds=3))  # type: ignore[attr-defined]
    assert (await desk.get("/console")).status_code == 303  # to the login page
    await desk.aclose()
