"""The HTTP API: authentication, bad input, health and schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.api.app import create_api
from service.app import Dutyd
from service.auth.tokens import Role, create_token, revoke_token
from service.clock import FrozenClock
from service.escalation.tables import EscalationStepRow
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.notify.tables import MessageRow
from tests.engine_helpers import count, start_dutyd

GOOD = {
    "category": "accident_disaster",
    "event_type": "road_traffic",
    "level": "III",
    "unit": "hexi",
    "title": "G318国道多车相撞",
}


@pytest.fixture
async def client(dutyd: Dutyd) -> AsyncIterator[httpx.AsyncClient]:
    async with dutyd.sessions.begin() as session:
        token = await create_token(
            session, name="desk", role=Role.duty_officer, now=dutyd.clock.now()
        )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
        base_url="http://dutyd.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


async def nothing_stored(dutyd: Dutyd) -> bool:
    return all(
        [
            await count(dutyd, model) == 0
            for model in (IncidentRow, TimelineEntryRow, MessageRow, EscalationStepRow)
        ]
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("category", "alien_invasion", "natural_disaster"),
        ("level", "V", "'I', 'II', 'III' or 'IV'"),
        ("unit", "atlantis", "unknown unit 'atlantis'"),
        ("event_type", "flood", "unknown event type 'flood'"),
    ],
)
async def test_unknown_value_is_422_naming_the_field(
    client: httpx.AsyncClient, dutyd: Dutyd, field: str, value: str, expected: str
) -> None:
    """An unknown category, level, unit or event type is refused; nothing is stored."""
    response = await client.post("/api/v1/incidents", json={**GOOD, field: value})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert errors[0]["loc"] == ["body", field]
    assert expected in errors[0]["msg"]
    assert await nothing_stored(dutyd)


async def test_missing_field_and_unknown_key_are_422(
    client: httpx.AsyncClient, dutyd: Dutyd
) -> None:
    """A report without a title, or with a misspelt key, is refused."""
    no_title = {k: v for k, v in GOOD.items() if k != "title"}
    response = await client.post("/api/v1/incidents", json=no_title)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]
    response = await client.post("/api/v1/incidents", json={**GOOD, "levle": "I"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "levle"]
    assert await nothing_stored(dutyd)


async def test_good_report_is_stored_with_its_plan(client: httpx.AsyncClient) -> None:
    """A road accident in Hexi runs under the city's road traffic plan."""
    response = await client.post("/api/v1/incidents", json=GOOD)
    assert response.status_code == 201
    body = response.json()
    assert body["plan_id"] == "linjiang-road-traffic"
    assert body["reporter"] == "desk"
    assert len(body["messages"]) == 4
    listed = (await client.get("/api/v1/incidents")).json()
    assert [i["id"] for i in listed] == [body["id"]]


async def test_calls_need_a_valid_token(client: httpx.AsyncClient, dutyd: Dutyd) -> None:
    """No token, a wrong token or a revoked token gets 401."""
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer dutyd_nonsense"}):
        response = await client.post("/api/v1/incidents", json=GOOD, headers=headers)
        assert response.status_code == 401
    async with dutyd.sessions.begin() as session:
        await revoke_token(session, name="desk", now=dutyd.clock.now())
    assert (await client.get("/api/v1/incidents")).status_code == 401
    assert await nothing_stored(dutyd)


async def test_unknown_incident_is_404(client: httpx.AsyncClient) -> None:
    """Asking for or acknowledging an incident that does not exist is a 404."""
    assert (await client.get("/api/v1/incidents/999")).status_code == 404
    response = await client.post("/api/v1/incidents/999/ack")
    assert response.status_code == 404
    assert "incident 999 not found" in response.json()["detail"]


async def test_health_readiness_metrics_and_schema(client: httpx.AsyncClient) -> None:
    """Probes answer without a token; the OpenAPI schema lists the incident endpoints."""
    anonymous = {"Authorization": ""}
    assert (await client.get("/healthz", headers=anonymous)).json() == {"status": "ok"}
    ready = (await client.get("/readyz", headers=anonymous)).json()
    assert ready["status"] == "ready" and ready["plans"] >= 4
    metrics = await client.get("/metrics", headers=anonymous)
    assert "dutyd_engine_runs_total" in metrics.text
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/incidents" in schema["paths"]
    assert "/api/v1/incidents/{incident_id}/ack" in schema["paths"]


async def test_roster_now_names_the_leader_on_shift(client: httpx.AsyncClient) -> None:
    """Who is on duty in Qingshan at the test clock's time."""
    holders = (await client.get("/api/v1/roster/now", params={"unit": "qingshan"})).json()
    by_role = {h["role"]: h["person_id"] for h in holders}
    assert by_role["duty_officer"] == "sun_li"
    assert by_role["leader_on_shift"] == "wu_hua"
    assert by_role["office_director"] == "zheng_hao"


async def test_plan_reload_needs_admin_and_show_gives_origins(
    client: httpx.AsyncClient, dutyd: Dutyd
) -> None:
    """Only an admin may reload; anyone with a token may read the effective plan."""
    response = await client.post("/api/v1/plans/reload")
    assert response.status_code == 403
    assert "needs one of admin" in response.json()["detail"]
    shown = (await client.get("/api/v1/plans/qingshan-flood", params={"level": "II"})).json()
    assert shown["chain"] == ["linjiang-master", "linjiang-flood", "qingshan-flood"]
    assert shown["origins"]["II"]["escalation"].endswith("qingshan_flood.yaml (defaults)")
    assert shown["origins"]["II"]["reports.initial"].endswith("master.yaml (levels.II)")
    assert (await client.get("/api/v1/plans/no-such")).status_code == 404
    async with dutyd.sessions.begin() as session:
        token = await create_token(session, name="ops", role=Role.admin, now=dutyd.clock.now())
    response = await client.post(
        "/api/v1/plans/reload", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json()["applied"] is True


async def test_answer_to_a_new_report_equals_what_is_read_back(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """The POST answer is built from what was written; it must be what a GET reads."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        async with dutyd.sessions.begin() as session:
            token = await create_token(
                session, name="desk", role=Role.duty_officer, now=clock.now()
            )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
            base_url="http://dutyd.test",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            full = {
                **GOOD,
                "level": "II",
                "description": "三车追尾，一车起火",
                "location": "G318国道K1234",
                "latitude": 30.1,
                "longitude": 104.2,
                "occurred_at": "2026-07-15T09:40:00+08:00",
                "learned_at": "2026-07-15T09:50:00+08:00",
                "casualties": {"deaths": 1, "injured": 4},
                "losses": "约50万元",
                "attachments": ["photo-1.jpg"],
                "source": "phone",
                "dedup_key": "g318-k1234",
            }
            posted = await http.post("/api/v1/incidents", json=full)
            assert posted.status_code == 201, posted.text
            answer = posted.json()
            assert answer["messages"] and answer["reports"] and len(answer["timeline"]) >= 3
            read = (await http.get(f"/api/v1/incidents/{answer['id']}")).json()
            assert answer == read
            again = await http.post("/api/v1/incidents", json=full)  # deduplicated: read back
            assert again.status_code == 200 and again.json()["deduplicated"] is True
    finally:
        await dutyd.stop()
