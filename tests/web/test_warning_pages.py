"""Public warnings in the console, in-process on both databases: drafting from the form
(each problem beside its field), the preview of its SMS and CAP, the review and sign-off
by others than its drafter, the statistics, a lift with its confirmation; and what the
workflow or the access table refuses, said on the page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.warnings.cap import validate_cap
from tests.conftest import Daemon
from tests.warnings.warning_helpers import load_recipients, recipients_csv
from tests.web.console_helpers import console_client, csrf_of

YELLOW = {
    "unit": "qingshan",
    "hazard": "rainstorm",
    "level": "III",
    "status": "Actual",
    "expires": "2026-07-16T10:00",  # the clock stands at 2026-07-15 10:00 in Shanghai
    "area_qingshan": "on",
    "area_hexi": "on",
    "zh_headline": "青山县、河西县暴雨黄色预警",
    "zh_description": "预计未来6小时内降雨量将达50毫米以上。",
    "zh_instruction": "注意防范城乡积涝。",
    "en_headline": "Yellow rainstorm warning for Qingshan and Hexi",
    "en_description": "Over 50 mm of rain expected within 6 hours.",
}


def cap_of(page: str) -> bytes:
    found = re.search(r'<pre class="cap" id="cap-xml">(.*?)</pre>', page, re.S)
    assert found, page[:2000]
    return html.unescape(found.group(1)).encode("utf-8")


async def form_post(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    csrf = csrf_of((await client.get("/console/warnings")).text)
    return await client.post(path, data={**data, "csrf": csrf})


async def deliver(daemon: Daemon) -> None:
    await daemon.dutyd.engine.run_due()
    daemon.dutyd.clock.advance(timedelta(minutes=1))
    await daemon.dutyd.engine.run_due()


async def test_draft_review_sign_and_lift_from_the_console(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    await load_recipients(dutyd, recipients_csv(qingshan=4, hexi=3, elsewhere=2))
    drafter = await console_client(
        dutyd,
        "li_na",
        Grant(Role.warning_drafter, "qingshan"),
        Grant(Role.warning_approver, "qingshan"),
    )
    reviewer = await console_client(dutyd, "zhou_jun", Grant(Role.warning_approver, "qingshan"))
    signer = await console_client(dutyd, "tang_hui", Grant(Role.warning_approver, "qingshan"))
    officer = await console_client(dutyd, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    leader = await console_client(dutyd, "wu_hua", Grant(Role.leader, "qingshan"))

    form = await drafter.get("/console/warnings/new")
    assert form.status_code == 200, form.text
    assert 'name="area_qingshan"' in form.text and "339902" in form.text
    csrf = csrf_of(form.text)

    # A bad code and a bad polygon are each said beside their field; nothing is stored.
    bad = await drafter.post(
        "/console/warnings/new", data={**YELLOW, "extra_codes": "12345", "csrf": csrf}
    )
    assert bad.status_code == 422
    assert re.search(r'id="e-extra_codes"[^>]*>[^<]*12345', bad.text), bad.text
    assert 'value="12345"' in bad.text  # what was typed is kept
    bad = await drafter.post(
        "/console/warnings/new", data={**YELLOW, "polygon": "30.1,120.1 30.2", "csrf": csrf}
    )
    assert bad.status_code == 422 and 'id="e-polygon"' in bad.text
    bad = await drafter.post(
        "/console/warnings/new", data={**YELLOW, "circle": "30.1,120.1 -3", "csrf": csrf}
    )
    assert bad.status_code == 422 and 'id="e-circle"' in bad.text
    bad = await drafter.post(
        "/console/warnings/new", data={**YELLOW, "zh_headline": "", "csrf": csrf}
    )
    assert bad.status_code == 422 and 'id="e-zh_headline"' in bad.text

    # The preview: both SMS with their segments, both cell-broadcast lengths, valid CAP.
    polygon = "30.1,120.1 30.2,120.1 30.2,120.3"
    preview = await drafter.post(
        "/console/warnings/preview", data={**YELLOW, "polygon": polygon, "csrf": csrf}
    )
    assert preview.status_code == 200, preview.text
    assert "【预警】青山县人民政府发布暴雨黄色预警" in preview.text
    assert "[WARNING]" in preview.text and 'data-segments="' in preview.text
    assert 'data-limit="90"' in preview.text and 'data-limit="360"' in preview.text
    cap = cap_of(preview.text)
    validate_cap(cap)
    assert b"<msgType>Alert</msgType>" in cap and b"30.1,120.1 30.2,120.1" in cap
    unfinished = await drafter.post(
        "/console/warnings/preview", data={**YELLOW, "extra_codes": "00x", "csrf": csrf}
    )
    assert unfinished.status_code == 200 and "00x" in unfinished.text
    assert "cap-xml" not in unfinished.text

    made = await drafter.post("/console/warnings/new", data={**YELLOW, "csrf": csrf})
    assert made.status_code == 303, made.text
    path = made.headers["location"]
    page = (await drafter.get(path)).text
    assert "制作中" in page and 'id="submit-warning"' in page and "level-yellow" in page
    assert (await drafter.post(f"{path}/submit", data={"csrf": csrf})).status_code == 303
    page = (await drafter.get(path)).text
    assert "审核中" in page and 'id="approve"' not in page  # not for its drafter

    # The drafter may not review her own: refused by the workflow, said on the page.
    refused = await drafter.post(f"{path}/review", data={"csrf": csrf, "decision": "approve"})
    assert refused.status_code == 409 and "drafted this warning" in refused.text
    assert 'id="action-error"' in refused.text

    # The reviewer sees it in his queue, and approves.
    queue = (await reviewer.get("/console/warnings")).text
    warning_id = path.rsplit("/", 1)[1]
    assert re.search(rf'id="queue".*id="warning-{warning_id}".*待我审核.*id="works"', queue, re.S)
    approved = await form_post(reviewer, f"{path}/review", decision="approve", comment="同意")
    assert approved.status_code == 303
    assert "待签发" in (await reviewer.get(path)).text

    # Not in the drafter's queue to sign; her sign-off is refused with a message.
    queue = (await drafter.get("/console/warnings")).text
    assert not re.search(rf'id="queue".*id="warning-{warning_id}".*id="works"', queue, re.S)
    refused = await drafter.post(f"{path}/sign", data={"csrf": csrf})
    assert refused.status_code == 409 and "may never sign" in refused.text

    # A duty officer is offered neither sign-off nor lift, and posting them is refused.
    page = (await officer.get(path)).text
    assert 'id="sign"' not in page and 'id="lift"' not in page
    assert (await form_post(officer, f"{path}/sign")).status_code == 403
    assert (await form_post(officer, f"{path}/lift", reason="x")).status_code == 403

    queue = (await signer.get("/console/warnings")).text
    assert re.search(rf'id="queue".*id="warning-{warning_id}".*待我签发', queue, re.S)
    signed = await form_post(signer, f"{path}/sign", comment="签发")
    assert signed.status_code == 303, signed.text
    await deliver(daemon)
    assert daemon.transport is not None
    sms = [m for m in daemon.transport.sent if m.channel == "sms"]
    assert len({m.address for m in sms}) == 7  # qingshan's 4 and hexi's 3
    page = (await signer.get(path)).text
    assert "已发布" in page and f'href="/warnings/{warning_id}.xml"' in page
    assert re.search(r'id="targeted">7<', page) and 'data-channel="sms"' in page
    sent = re.search(r'class="sent">(\d+)<.*class="delivered">(\d+)<', page)
    assert sent and int(sent[1]) + int(sent[2]) == 7, page
    stats = await signer.get(f"{path}/stats")
    assert stats.status_code == 200 and 'hx-trigger="every 3s"' in stats.text
    assert re.search(r'id="last-hand-off">\d+\.\d s', stats.text)
    steps = re.findall(r'data-step="(\w+)"', page)
    assert steps[:5] == ["drafted", "submitted", "approved", "signed", "published"]
    assert "李娜" in page and "周军" in page and "同意" in page
    assert "in-force" in (listing := (await officer.get("/console/warnings")).text)
    assert re.search(rf'id="in-force".*id="warning-{warning_id}"', listing, re.S)

    # Lift (解除): one click opens the confirmation; confirming sends the lift.
    page = (await leader.get(path)).text
    assert 'id="lift"' in page and 'data-dialog="lift-dialog"' in page
    assert re.search(r'<dialog id="lift-dialog"[^>]*>', page)
    assert not re.search(r'<dialog id="lift-dialog"[^>]* open', page)
    confirm = (await leader.get(f"{path}?confirm=lift")).text
    assert re.search(r'<dialog id="lift-dialog"[^>]* open', confirm)
    empty = await form_post(leader, f"{path}/lift", reason="")
    assert empty.status_code == 422 and re.search(r'<dialog id="lift-dialog"[^>]* open', empty.text)
    daemon.transport.sent.clear()
    lifted = await form_post(leader, f"{path}/lift", reason="降雨已减弱")
    assert lifted.status_code == 303
    lift_path = lifted.headers["location"]
    assert lift_path != path
    await deliver(daemon)
    lifts = [m for m in daemon.transport.sent if m.channel == "sms"]
    assert len({m.address for m in lifts}) == 7 and all("解除" in m.body for m in lifts)
    page = (await leader.get(lift_path)).text
    assert "解除" in page and re.search(r'id="targeted">7<', page)
    original = (await leader.get(path)).text
    assert 'id="lift"' not in original and 'data-kind="Cancel"' in original
    refused = await form_post(leader, f"{path}/lift", reason="again")
    assert refused.status_code == 409 and "not in force" in refused.text
    for client in (drafter, reviewer, signer, officer, leader):
        await client.aclose()


async def test_a_draft_edited_sent_back_and_withdrawn(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    drafter = await console_client(dutyd, "li_na", Grant(Role.warning_drafter, "qingshan"))
    reviewer = await console_client(dutyd, "zhou_jun", Grant(Role.warning_approver, "qingshan"))
    made = await form_post(drafter, "/console/warnings/new", **YELLOW)
    path = made.headers["location"]
    edit = await drafter.get(f"{path}/edit")
    assert edit.status_code == 200 and "青山县、河西县暴雨黄色预警" in edit.text
    assert re.search(r'name="area_hexi" id="f-area_hexi" checked', edit.text)
    changed = {**YELLOW, "level": "IV", "zh_headline": "青山县暴雨蓝色预警", "area_hexi": ""}
    saved = await form_post(drafter, f"{path}/edit", **changed)
    assert saved.status_code == 303, saved.text
    page = (await drafter.get(path)).text
    assert "青山县暴雨蓝色预警" in page and "level-blue" in page and "339902" not in page
    await form_post(drafter, f"{path}/submit")
    refused = await form_post(reviewer, f"{path}/review", decision="changes", comment="")
    assert refused.status_code == 422 and "say what must change" in refused.text
    back = await form_post(reviewer, f"{path}/review", decision="changes", comment="补充范围")
    assert back.status_code == 303
    page = (await drafter.get(path)).text
    assert "制作中" in page and "补充范围" in page and 'data-step="changes_requested"' in page
    # A drafter may not publish through the green channel, nor is it offered for blue.
    assert 'id="publish-now"' not in page
    assert (await form_post(drafter, f"{path}/publish-now", reason="急")).status_code == 403
    gone = await form_post(drafter, f"{path}/withdraw", reason="重复")
    assert gone.status_code == 303
    page = (await drafter.get(path)).text
    assert "已解除/撤销" in page and 'id="submit-warning"' not in page
    again = await form_post(drafter, f"{path}/submit")
    assert again.status_code == 409 and "only a draft" in again.text
    # A warning that is not there is of no unit: refused to a county's drafter, as the
    # incidents are, and not found for one granted every unit.
    assert (await drafter.get("/console/warnings/999")).status_code == 403
    anywhere = await console_client(dutyd, "wang_fang", Grant(Role.warning_approver))
    assert (await anywhere.get("/console/warnings/999")).status_code == 404
    assert (await form_post(anywhere, "/console/warnings/999/sign")).status_code == 404
    await anywhere.aclose()
    english = await drafter.post("/console/language", data={"csrf": csrf_of(page), "next": path})
    assert english.status_code == 303
    dutyd.clock.advance(timedelta(seconds=3))  # past the console's cache of the session
    assert "Workflow history" in (await drafter.get(path)).text
    for client in (drafter, reviewer):
        await client.aclose()


async def test_the_green_channel_and_its_review_after(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    drafter = await console_client(dutyd, "li_na", Grant(Role.warning_drafter, "qingshan"))
    signer = await console_client(dutyd, "tang_hui", Grant(Role.warning_approver, "qingshan"))
    city = await console_client(dutyd, "wang_fang", Grant(Role.warning_approver, "linjiang"))
    made = await form_post(drafter, "/console/warnings/new", **{**YELLOW, "level": "II"})
    path = made.headers["location"]
    page = (await signer.get(path)).text
    assert 'id="publish-now"' in page and "level-orange" in page
    no_reason = await form_post(signer, f"{path}/publish-now", reason="")
    assert no_reason.status_code == 422 and "green channel is needed" in no_reason.text
    sent = await form_post(signer, f"{path}/publish-now", reason="山洪暴发在即")
    assert sent.status_code == 303
    page = (await signer.get(path)).text
    assert "已发布" in page and 'id="green-flag"' in page and "待事后审核" in page
    assert 'id="review-after"' not in page  # not by its signer
    queue = (await city.get("/console/warnings")).text
    warning_id = path.rsplit("/", 1)[1]
    assert re.search(rf'id="queue".*id="warning-{warning_id}".*待事后审核', queue, re.S)
    reviewed = await form_post(city, f"{path}/review-after", comment="同意先发布")
    assert reviewed.status_code == 303
    page = (await city.get(path)).text
    assert "事后审核 王芳" in page and 'data-step="reviewed_after"' in page
    assert 'id="review-after"' not in page
    # The city's approver may lift a county's warning; its drafter may draft an update.
    assert 'id="lift"' in page
    page = (await drafter.get(path)).text
    assert 'id="draft-update"' in page and 'id="lift"' not in page
    update = await drafter.get(f"{path}/update")
    assert update.status_code == 200 and 'value="Update"' in update.text
    assert "山洪暴发在即" not in update.text and "青山县、河西县暴雨黄色预警" in update.text
    for client in (drafter, signer, city):
        await client.aclose()
