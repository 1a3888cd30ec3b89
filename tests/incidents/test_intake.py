"""The intake record (接报登记): who reported it, how, what was already done, who else was
told; kept with the incident and searchable."""

from __future__ import annotations

from typing import Any

from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import Daemon

CALL = {
    "category": "natural_disaster",
    "event_type": "geological",
    "level": "IV",
    "unit": "qingshan",
    "title": "青山县石门村山体滑坡",
    "location": "石门村三组",
    "intake": {
        "reporter_name": "王建国",
        "reporter_unit": "石门村村委会",
        "reporter_phone": "0571-6601 2345",
        "received_via": "phone",
        "actions_taken": "已疏散村民12户；村道封闭",
        "others_told": "镇政府、县自然资源局",
    },
}


async def ids(desk: Any, **params: str) -> list[int]:
    found = await desk.get("/api/v1/incidents", params=params)
    assert found.status_code == 200, found.text
    return [i["id"] for i in found.json()]


async def test_the_intake_record_is_kept_and_searchable(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    created = await desk.post("/api/v1/incidents", json=CALL)
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["intake"] == CALL["intake"]
    other = (
        await desk.post(
            "/api/v1/incidents",
            json={**CALL, "title": "河西县路面塌陷", "unit": "hexi", "intake": {}},
        )
    ).json()
    assert other["intake"]["received_via"] is None

    assert await ids(desk, q="王建国") == [incident["id"]]  # the reporter's name
    assert await ids(desk, q="6601") == [incident["id"]]  # part of the phone number
    assert await ids(desk, q="疏散") == [incident["id"]]  # what was done
    assert await ids(desk, q="自然资源局 石门") == [incident["id"]]  # every word must match
    assert await ids(desk, q="自然资源局 河西") == []
    assert sorted(await ids(desk, q="塌陷 ")) == [other["id"]]
    assert await ids(desk, q="村%") == []  # % and _ are taken literally, not as wildcards
    assert await ids(desk, q="村_") == []
    assert await ids(desk, unit="hexi") == [other["id"]]
    too_long = await desk.get("/api/v1/incidents", params={"q": "长" * 201})
    assert too_long.status_code == 422
    await desk.aclose()


async def test_a_bad_intake_is_refused_by_field(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer)
    bad_way = await desk.post(
        "/api/v1/incidents", json={**CALL, "intake": {"received_via": "pigeon"}}
    )
    assert bad_way.status_code == 422 and "received_via" in bad_way.text
    unknown = await desk.post("/api/v1/incidents", json={**CALL, "intake": {"caller": "x"}})
    assert unknown.status_code == 422 and "caller" in unknown.text
    await desk.aclose()
