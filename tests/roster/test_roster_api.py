"""Rosters through the API: versions, refused edits, approved overrides, CSV, iCal, handover."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from service.app import Dutyd
from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.engine_helpers import report

SH = ZoneInfo("Asia/Shanghai")


async def test_roster_versions_and_refused_edits(dutyd: Dutyd) -> None:
    """A valid edit makes a new version; one that breaks a plan or names nobody is refused whole."""
    admin = await api_client(dutyd, Role.admin)
    current = (await admin.get("/api/v1/roster")).json()
    assert current["version"] == 1
    roster: dict[str, Any] = current["roster"]

    broken = {
        **roster,
        "rotations": [{**roster["rotations"][0], "people": ["ghost"]}, *roster["rotations"][1:]],
    }
    response = await admin.put("/api/v1/roster", json=broken)
    assert response.status_code == 422
    assert "rotations.0.people.0: unknown person 'ghost'" in response.json()["detail"][0]["msg"]

    no_directors = {
        **roster,
        "positions": [p for p in roster["positions"] if p["role"] != "office_director"],
    }
    response = await admin.put("/api/v1/roster", json=no_directors)
    assert response.status_code == 422
    assert any("unknown role 'office_director'" in d["msg"] for d in response.json()["detail"])
    assert (await admin.get("/api/v1/roster")).json()["version"] == 1

    renamed = {
        **roster,
        "people": [
            {**p, "title": "值班员（新）"} if p["id"] == "sun_li" else p for p in roster["people"]
        ],
    }
    response = await admin.put("/api/v1/roster", json=renamed, params={"comment": "title change"})
    assert response.status_code == 200 and response.json()["version"] == 2
    officer = (await admin.get("/api/v1/roster")).json()["roster"]["people"]
    assert next(p for p in officer if p["id"] == "sun_li")["title"] == "值班员（新）"

    desk = await api_client(dutyd, Role.duty_officer)
    assert (await desk.put("/api/v1/roster", json=renamed)).status_code == 403


async def test_override_takes_effect_once_approved(dutyd: Dutyd) -> None:
    """A duty officer asks for cover; nothing changes until a leader approves it."""
    desk = await api_client(dutyd, Role.duty_officer)
    leader = await api_client(dutyd, Role.leader)
    start = datetime(2026, 7, 15, 9, tzinfo=SH)
    request = {
        "unit": "qingshan",
        "role": "duty_officer",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=6)).isoformat(),
        "person": "liu_yang",
        "replaces": "sun_li",
        "reason": "sick child",
    }
    created = await desk.post("/api/v1/roster/overrides", json=request)
    assert created.status_code == 201, created.text
    override = created.json()["override"]
    assert override["requested_by"] == "duty_officer-desk" and override["approved_by"] is None

    def officer_now() -> Any:
        return desk.get("/api/v1/roster/now", params={"unit": "qingshan"})

    holders = {h["role"]: h["person_id"] for h in (await officer_now()).json()}
    assert holders["duty_officer"] == "sun_li"
    assert (
        await desk.post(f"/api/v1/roster/overrides/{override['id']}/approve")
    ).status_code == 403
    approved = await leader.post(f"/api/v1/roster/overrides/{override['id']}/approve")
    assert approved.status_code == 200
    dutyd.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    holders = {h["role"]: h["person_id"] for h in (await officer_now()).json()}
    assert holders["duty_officer"] == "liu_yang"
    stored = (await desk.get("/api/v1/roster")).json()["roster"]["overrides"][0]
    assert stored["approved_by"] == "leader-desk" and stored["reason"] == "sick child"


async def test_an_earlier_roster_version_is_listed_and_restored(dutyd: Dutyd) -> None:
    """An approved swap turns out wrong: the admin puts version 1 back, as version 3."""
    admin = await api_client(dutyd, Role.admin)
    leader = await api_client(dutyd, Role.leader)
    start = datetime(2026, 7, 15, 9, tzinfo=SH)
    swap = {
        "unit": "qingshan",
        "role": "duty_officer",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=6)).isoformat(),
        "person": "liu_yang",
        "replaces": "sun_li",
        "approve": True,
    }
    assert (await leader.post("/api/v1/roster/overrides", json=swap)).status_code == 201
    dutyd.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]

    async def officer() -> str:
        holders = (await admin.get("/api/v1/roster/now", params={"unit": "qingshan"})).json()
        return next(h["person_id"] for h in holders if h["role"] == "duty_officer")

    assert await officer() == "liu_yang"
    listed = (await admin.get("/api/v1/roster/versions")).json()
    assert [(v["version"], v["in_force"], v["created_by"]) for v in listed] == [
        (2, True, "leader-desk"),
        (1, False, "dutyd"),
    ]
    assert listed[0]["comment"].startswith("override ovr-")
    first = (await admin.get("/api/v1/roster/versions/1")).json()
    assert first["version"] == 1 and first["roster"]["overrides"] == []
    desk = await api_client(dutyd, Role.duty_officer)  # any role may look
    assert len((await desk.get("/api/v1/roster/versions")).json()) == 2
    assert (await desk.get("/api/v1/roster/versions/99")).status_code == 404

    assert (await leader.post("/api/v1/roster/versions/1/restore")).status_code == 403
    missing = await admin.post("/api/v1/roster/versions/99/restore")
    assert missing.status_code == 404 and "roster version 99 not found" in missing.text
    restored = await admin.post("/api/v1/roster/versions/1/restore")
    assert restored.status_code == 200 and restored.json() == {"version": 3, "restored": 1}
    assert await officer() == "sun_li"
    assert (await admin.get("/api/v1/roster")).json()["roster"]["overrides"] == []
    listed = (await admin.get("/api/v1/roster/versions")).json()
    newest = listed[0]
    assert (newest["version"], newest["in_force"], newest["comment"]) == (
        3,
        True,
        "restored version 1",
    )
    assert len(listed) == 3  # the swap's version stays on record
    again = await admin.post("/api/v1/roster/versions/3/restore")
    assert again.status_code == 422 and "is the one in force" in again.text


async def test_duty_table_csv_through_the_api(dutyd: Dutyd) -> None:
    """A CSV duty table replaces the rotation for its days and exports back the same."""
    leader = await api_client(dutyd, Role.leader)
    table = (
        "date,unit,role,person,shift_start,shift_length\n"
        "2026-07-16,qingshan,duty_officer,liu_yang,08:30,24h\n"
    )
    response = await leader.put("/api/v1/roster/duty-table.csv", content=table.encode())
    assert response.status_code == 200 and response.json()["lines"] == 1
    holders = await leader.get(
        "/api/v1/roster/now",
        params={"unit": "qingshan", "at": datetime(2026, 7, 16, 12, tzinfo=SH).isoformat()},
    )
    assert {h["role"]: h["person_id"] for h in holders.json()}["duty_officer"] == "liu_yang"
    assert (await leader.get("/api/v1/roster/duty-table.csv")).text == table
    bad = await leader.put(
        "/api/v1/roster/duty-table.csv",
        content=b"date,unit,role,person\nx,qingshan,duty_officer,nobody\n",
    )
    assert bad.status_code == 422
    assert "duty-table.csv:2" in bad.json()["detail"][0]["msg"]


async def test_check_endpoint_lists_violations(dutyd: Dutyd) -> None:
    """An approved override putting a junior official on leader duty shows up in the check."""
    leader = await api_client(dutyd, Role.leader)
    start = datetime(2026, 7, 16, 8, 30, tzinfo=SH)
    await leader.post(
        "/api/v1/roster/overrides",
        json={
            "unit": "qingshan",
            "role": "leader_on_shift",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=24)).isoformat(),
            "person": "liu_yang",
            "approve": True,
        },
    )
    found = (await leader.get("/api/v1/roster/check", params={"unit": "qingshan"})).json()
    rules = {v["rule"] for v in found}
    assert {"leader_rank", "leader_is_duty_officer"} <= rules
    assert all(v["unit"] == "qingshan" for v in found)


async def test_ical_feed_by_secret_link(dutyd: Dutyd) -> None:
    """A person's feed lists their shifts with stable ids; an unknown link is a 404."""
    leader = await api_client(dutyd, Role.leader)
    url = (
        await leader.post("/api/v1/roster/feeds", json={"kind": "person", "subject": "sun_li"})
    ).json()["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    anonymous = await api_client(dutyd, Role.duty_officer, name="other")
    anonymous.headers.pop("Authorization")
    response = await anonymous.get("/" + path)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/calendar"
    )
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert events and all("孙丽" in str(e["SUMMARY"]) for e in events)
    assert all(str(e["DTSTART"].dt.tzinfo) == "Asia/Shanghai" for e in events)
    again = Calendar.from_ical((await anonymous.get("/" + path)).content)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]
    assert (await anonymous.get("/calendar/not-a-real-token.ics")).status_code == 404
    unknown = await leader.post("/api/v1/roster/feeds", json={"kind": "person", "subject": "ghost"})
    assert unknown.status_code == 422
    sun_li = {"kind": "person", "subject": "sun_li"}
    revoked = await leader.post("/api/v1/roster/feeds/revoke", json=sun_li)
    assert revoked.json() == {"revoked": 1}
    assert (await anonymous.get("/" + path)).status_code == 404
    assert (await leader.post("/api/v1/roster/feeds/revoke", json=sun_li)).json() == {"revoked": 0}
    fresh = (await leader.post("/api/v1/roster/feeds", json=sun_li)).json()["url"]
    assert (await anonymous.get("/" + fresh.split("://", 1)[1].split("/", 1)[1])).status_code == 200


async def test_handover_lists_open_incidents_and_is_confirmed_once(dutyd: Dutyd) -> None:
    desk = await api_client(dutyd, Role.duty_officer)
    incident_id = await report(dutyd)
    body = {"unit": "qingshan", "outgoing": "sun_li", "notes": "河道水位每小时上报"}
    created = (await desk.post("/api/v1/handovers", json=body)).json()
    assert [i["id"] for i in created["open_incidents"]] == [incident_id]
    assert created["incoming"] == "liu_yang"  # the next shift's officer
    confirmed = await desk.post(
        f"/api/v1/handovers/{created['id']}/confirm", json={"person": "liu_yang"}
    )
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == "liu_yang"
    again = await desk.post(
        f"/api/v1/handovers/{created['id']}/confirm", json={"person": "liu_yang"}
    )
    assert again.status_code == 422 and "already confirmed" in again.json()["detail"][0]["msg"]
    unknown = await desk.post("/api/v1/handovers", json={**body, "outgoing": "ghost"})
    assert unknown.status_code == 422
