"""The warning workflow over the API, with the roles it needs; the public feed, page and
CAP; recipients by CSV and opt-out."""

from __future__ import annotations

from datetime import timedelta

import httpx
from lxml import etree

from service.auth.tokens import Role
from service.warnings.cap import validate_cap
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.warnings.warning_helpers import recipients_csv

ATOM = "{http://www.w3.org/2005/Atom}"


def draft_body(expires: str, level: str = "II") -> dict[str, object]:
    return {
        "unit": "qingshan",
        "content": {
            "hazard": "rainstorm",
            "level": level,
            "areas": [{"description": "青山县", "codes": ["339901"]}],
            "texts": [
                {
                    "language": "zh-CN",
                    "headline": "青山县暴雨橙色预警",
                    "description": "预计未来3小时降雨量达50毫米以上。",
                    "instruction": "注意防范城乡积涝和山洪。",
                }
            ],
            "expires": expires,
        },
    }


async def test_the_workflow_over_the_api(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    drafter = await api_client(dutyd, Role.warning_drafter, "drafter")
    reviewer = await api_client(dutyd, Role.warning_approver, "reviewer")
    city = await api_client(dutyd, Role.warning_approver, "city-reviewer")
    signer = await api_client(dutyd, Role.warning_approver, "signer")
    officer = await api_client(dutyd, Role.duty_officer, "officer")
    public = httpx.AsyncClient(transport=drafter._transport, base_url="http://dutyd.test")

    imported = await drafter.put(
        "/api/v1/recipients.csv",
        content=recipients_csv(qingshan=5, hexi=2).encode(),
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 200 and imported.json()["created"] == 7, imported.text
    bad = await drafter.put(
        "/api/v1/recipients.csv",
        content=b"id,name,kind,areas,sms\nx1,,village_head,12,+86\n",
        headers={"content-type": "text/csv"},
    )
    assert bad.status_code == 200 and not bad.json()["stored"]
    assert {r["line"] for r in bad.json()["rejected"]} == {2}

    expires = (dutyd.clock.now() + timedelta(hours=6)).isoformat()
    assert (await officer.post("/api/v1/warnings", json=draft_body(expires))).status_code == 403
    made = await drafter.post("/api/v1/warnings", json=draft_body(expires))
    assert made.status_code == 201, made.text
    warning = made.json()
    path = f"/api/v1/warnings/{warning['id']}"
    assert warning["stage"] == "draft" and warning["colour"] == "orange"
    assert (await drafter.post(f"{path}/submit")).json()["stage"] == "in_review"
    # A drafter may not review or sign; a duty officer may not publish.
    assert (await drafter.post(f"{path}/review", json={"approve": True})).status_code == 403
    assert (await officer.post(f"{path}/sign")).status_code == 403
    assert (await officer.post(f"{path}/publish-now", json={"reason": "急"})).status_code == 403
    sent_back = await reviewer.post(
        f"{path}/review", json={"approve": False, "comment": "补充转移范围"}
    )
    assert sent_back.json()["stage"] == "draft"
    assert (await drafter.post(f"{path}/submit")).status_code == 200
    for who in (reviewer, city):
        answer = await who.post(f"{path}/review", json={"approve": True, "comment": "同意"})
        assert answer.status_code == 200, answer.text
    assert answer.json()["stage"] == "awaiting_signoff"
    early = await signer.post(f"{path}/lift", json={"reason": "x"})
    assert early.status_code == 409
    signed = await signer.post(f"{path}/sign", json={"comment": "签发"})
    assert signed.status_code == 200 and signed.json()["stage"] == "published", signed.text
    assert (await signer.post(f"{path}/sign")).status_code == 409

    await dutyd.engine.run_due()
    dutyd.clock.advance(timedelta(minutes=1))
    await dutyd.engine.run_due()
    detail = (await drafter.get(path)).json()
    assert [s["step"] for s in detail["steps"]][:4] == [
        "drafted",
        "submitted",
        "changes_requested",
        "submitted",
    ]
    stats = detail["stats"]
    assert stats["targeted"] == 5 and stats["by_channel"]["sms"]["delivered"] == 5
    assert stats["by_area"] == [{"code": "339901", "recipients": 5}]
    assert stats["last_hand_off_seconds"] is not None

    # Public: the feed (and the Chinese one), the CAP it links to, the page for an area.
    feed = await public.get("/warnings/feed.atom")
    assert feed.status_code == 200
    entries = etree.fromstring(feed.content).findall(f"{ATOM}entry")
    assert len(entries) == 1
    link = next(
        e.get("href")
        for e in entries[0].findall(f"{ATOM}link")
        if e.get("type") == "application/cap+xml"
    )
    cap = await public.get(httpx.URL(link).path)
    assert cap.status_code == 200 and cap.headers["content-type"].startswith("application/cap+xml")
    validate_cap(cap.content)
    assert (await public.get("/warnings/feed.zh-CN.atom")).status_code == 200
    assert (await public.get("/warnings/feed.fr-FR.atom")).status_code == 404
    here = await public.get("/warnings", params={"area": "339901003"})
    assert "青山县暴雨橙色预警" in here.text
    elsewhere = await public.get("/warnings", params={"area": "339902"})
    assert "青山县暴雨橙色预警" not in elsewhere.text and "no-warnings" in elsewhere.text

    # Opt-out by API; the lift; the feed is empty again.
    out = await drafter.post("/api/v1/recipients/opt-out", json={"address": "+8613900000001"})
    assert out.status_code == 200
    unknown = await drafter.post("/api/v1/recipients/opt-out", json={"address": "+8610"})
    assert unknown.status_code == 422
    assert (await drafter.get(path)).json()["stats"]["opted_out"] == 1
    assert (await officer.get("/api/v1/recipients")).status_code == 403  # the public's numbers
    listed = (await drafter.get("/api/v1/recipients", params={"area": "339901"})).json()
    assert len(listed) == 5 and {
        a["opted_out_at"] is not None for r in listed for a in r["addresses"]
    } == {True, False}
    assert len((await drafter.get("/api/v1/recipients")).json()) == 7
    lifted = await officer.post(f"{path}/lift", json={"reason": "雨停"})
    assert lifted.status_code == 403
    leader = await api_client(dutyd, Role.leader, "leader")
    lifted = await leader.post(f"{path}/lift", json={"reason": "雨停"})
    assert lifted.status_code == 201 and lifted.json()["msg_type"] == "Cancel", lifted.text
    feed = await public.get("/warnings/feed.atom")
    assert etree.fromstring(feed.content).findall(f"{ATOM}entry") == []
    for client in (drafter, reviewer, city, signer, officer, public, leader):
        await client.aclose()


async def test_expiry_drops_a_warning_from_the_feed(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    drafter = await api_client(dutyd, Role.warning_drafter, "drafter")
    reviewer = await api_client(dutyd, Role.warning_approver, "reviewer")
    signer = await api_client(dutyd, Role.warning_approver, "signer")
    expires = (dutyd.clock.now() + timedelta(hours=1)).isoformat()
    made = (await drafter.post("/api/v1/warnings", json=draft_body(expires, "IV"))).json()
    path = f"/api/v1/warnings/{made['id']}"
    await drafter.post(f"{path}/submit")
    await reviewer.post(f"{path}/review", json={"approve": True})
    assert (await signer.post(f"{path}/sign")).json()["stage"] == "published"
    feed = await drafter.get("/warnings/feed.atom")
    assert len(etree.fromstring(feed.content).findall(f"{ATOM}entry")) == 1
    dutyd.clock.advance(timedelta(hours=2))
    await dutyd.engine.run_due()
    assert (await drafter.get(path)).json()["stage"] == "expired"
    feed = await drafter.get("/warnings/feed.atom")
    assert etree.fromstring(feed.content).findall(f"{ATOM}entry") == []
    for client in (drafter, reviewer, signer):
        await client.aclose()
