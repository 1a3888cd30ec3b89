"""From an incident's page, a drafter raises a warning draft prefilled from it and linked."""

from __future__ import annotations

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.warnings import service
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.web.console_helpers import console_client, csrf_of

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超保证",
    "description": "青山河水位超保证水位0.4米，沿河村庄受威胁。",
}


async def test_a_warning_drafted_from_the_incident_page(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    incident_id = (await desk.post("/api/v1/incidents", json=FLOOD)).json()["id"]
    drafter = await console_client(dutyd, "li_na", Grant(Role.warning_drafter, "qingshan"))
    page = await drafter.get(f"/console/incidents/{incident_id}")
    assert 'id="draft-warning"' in page.text
    made = await drafter.post(
        f"/console/incidents/{incident_id}/warning", data={"csrf": csrf_of(page.text)}
    )
    assert made.status_code == 303 and made.headers["location"].endswith("/edit")
    warning_id = int(made.headers["location"].split("/")[-2])
    async with dutyd.sessions() as session:
        row = await service.get_warning(session, warning_id)
        linked = await service.incidents_of(session, [warning_id])
    content = service.content_of(row)
    assert (content.hazard, content.level.value, row.unit_id) == ("flood", "II", "qingshan")
    assert content.areas[0].codes == ["339901"] and linked == [incident_id]
    officer = await console_client(dutyd, "liu_yang", Grant(Role.duty_officer, "qingshan"))
    assert 'id="draft-warning"' not in (await officer.get(f"/console/incidents/{incident_id}")).text
    for client in (desk, drafter, officer):
        await client.aclose()
