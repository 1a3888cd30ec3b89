"""The order of the board's rows as a browser sees it: each row's key (data-urgency, and
the key it takes at its deadline) orders the rows as the server orders them, now and
once a deadline has passed, on the board and on the wall display."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.catalog import Level
from service.clock import FrozenClock
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.engine_helpers import flood_report, report
from tests.web.console_helpers import console_client

ROW = re.compile(r'<(?:tr|div) class="(?:incident|wall-incident)"([^>]*)>')
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def rows_of(html: str) -> list[dict[str, str]]:
    """The attributes of the incident rows, in the page's order."""
    return [dict(ATTRIBUTE.findall(found)) for found in ROW.findall(html)]


def key_at(row: dict[str, str], now: datetime) -> list[int]:
    """The row's key at `now`, as console.js takes it."""
    at = row.get("data-urgency-at")
    late = at is not None and datetime.fromisoformat(at) <= now
    return [int(part) for part in row["data-urgency-late" if late else "data-urgency"].split()]


def browser_order(rows: list[dict[str, str]], now: datetime) -> list[str]:
    return [row["id"] for row in sorted(rows, key=lambda row: key_at(row, now))]


async def board_rows(client: httpx.AsyncClient, path: str) -> list[dict[str, str]]:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    return rows_of(answer.text)


async def test_the_rows_keys_order_them_as_the_server_does(
    daemon: Daemon, clock: FrozenClock
) -> None:
    dutyd = daemon.dutyd
    api = await api_client(dutyd, Role.admin)
    viewer = await console_client(dutyd, "zhao_min", Grant(Role.viewer))

    # An acknowledged level II logged first, so that its first report (in 30 min) falls
    # due first; then a level IV, a level I (15 min) and a level II elsewhere.
    acked = await report(dutyd, flood_report(title="先报已确认"))
    assert (await api.post(f"/api/v1/incidents/{acked}/ack")).status_code == 200
    clock.advance(timedelta(minutes=20))
    minor = await report(dutyd, flood_report(title="四级").model_copy(update={"level": Level.IV}))
    major = await report(dutyd, flood_report(title="一级").model_copy(update={"level": Level.I}))
    other = await report(dutyd, flood_report("hexi", "河西二级"))

    for path in ("/console", "/console/wall"):
        rows = await board_rows(viewer, path)
        shown = [row["id"] for row in rows]
        assert sorted(shown) == sorted(f"incident-{i}" for i in (acked, minor, major, other))
        assert browser_order(rows, clock.now()) == shown, path
        assert shown.index(f"incident-{acked}") == len(shown) - 1  # acknowledged: last
        assert shown.index(f"incident-{major}") < shown.index(f"incident-{minor}")
        assert all("data-urgency-at" in row for row in rows)  # none late yet

    # Past the acknowledged one's first deadline: the browser puts it first, from what
    # the rows said before, and so does the server.
    before = await board_rows(viewer, "/console")
    due = min(datetime.fromisoformat(row["data-urgency-at"]) for row in before)
    assert due == datetime.fromisoformat(
        next(row for row in before if row["id"] == f"incident-{acked}")["data-urgency-at"]
    )
    clock.advance(due - clock.now() + timedelta(seconds=1))
    foreseen = browser_order(before, clock.now())
    assert foreseen[0] == f"incident-{acked}"
    for path in ("/console", "/console/wall"):
        after = await board_rows(viewer, path)
        assert [row["id"] for row in after] == foreseen, path
        assert browser_order(after, clock.now()) == foreseen
        late = next(row for row in after if row["id"] == f"incident-{acked}")
        assert "data-urgency-at" not in late
        was = next(row for row in before if row["id"] == f"incident-{acked}")
        assert late["data-urgency"] == was["data-urgency-late"]

    # Raised to level I, the minor one goes above the level II one elsewhere.
    raised = await api.post(
        f"/api/v1/incidents/{minor}/level", json={"level": "I", "reason": "险情扩大"}
    )
    assert raised.status_code == 200, raised.text
    rows = await board_rows(viewer, "/console")
    shown = [row["id"] for row in rows]
    assert browser_order(rows, clock.now()) == shown
    assert shown.index(f"incident-{minor}") < shown.index(f"incident-{other}")
    await api.aclose()
    await viewer.aclose()
