"""The duty office's figures per unit and period, and the late-report accountability
list with the people responsible and the explanations recorded."""

from __future__ import annotations

from datetime import timedelta

from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import Daemon

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


async def test_figures_and_the_accountability_list(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    start = dutyd.clock.now() - timedelta(hours=1)
    first = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    second = (
        await desk.post("/api/v1/incidents", json={**FLOOD, "level": "IV", "title": "积水"})
    ).json()
    dutyd.clock.advance(timedelta(minutes=4))
    await desk.post(f"/api/v1/incidents/{first['id']}/ack")
    # Nobody reports: the initial reports come due and are late.
    dutyd.clock.advance(timedelta(hours=3))
    await dutyd.engine.run_due()
    await desk.post(
        f"/api/v1/incidents/{second['id']}/status", json={"status": "resolved", "note": "已排涝"}
    )
    await desk.post(
        f"/api/v1/incidents/{first['id']}/reports",
        json={"kind": "initial", "content": "初报：水位超警戒0.5米"},
    )
    end = dutyd.clock.now() + timedelta(days=1)
    window = {"from": start.isoformat(), "to": end.isoformat()}
    figures = (await desk.get("/api/v1/statistics", params=window)).json()
    qingshan = next(f for f in figures if f["unit"] == "qingshan")
    assert qingshan["incidents"] == {"natural_disaster/II": 1, "natural_disaster/IV": 1}
    assert qingshan["acknowledged"] == 1 and qingshan["mean_seconds_to_acknowledge"] == 240.0
    assert qingshan["resolved"] == 1 and qingshan["mean_seconds_to_resolve"] > 3 * 3600
    assert qingshan["reports_late"] >= 1

    late = (await desk.get("/api/v1/accountability/late-reports", params=window)).json()
    made_late = next(r for r in late if r["incident_id"] == first["id"] and r["state"] == "late")
    assert made_late["report"]["zh"] == "初报" and made_late["delay_seconds"] > 0
    assert made_late["responsible"]
    assert any(r["incident_id"] == second["id"] for r in late)  # never made

    detail = (await desk.get(f"/api/v1/incidents/{first['id']}")).json()
    duty_id = next(d["id"] for d in detail["reports"] if d["kind"] == "initial")
    explained = await desk.post(
        f"/api/v1/reports/{duty_id}/explanation", json={"explanation": "值班员接报后先行组织转移"}
    )
    assert explained.status_code == 200, explained.text
    late = (await desk.get("/api/v1/accountability/late-reports", params=window)).json()
    assert any(r["explanation"] == "值班员接报后先行组织转移" for r in late)
    viewer = await api_client(dutyd, Role.viewer, "viewer")
    refused = await viewer.post(f"/api/v1/reports/{duty_id}/explanation", json={"explanation": "x"})
    assert refused.status_code == 403
    await desk.aclose()
    await viewer.aclose()
