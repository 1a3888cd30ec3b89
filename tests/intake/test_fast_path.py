"""The Alertmanager webhook's fast path (api.intake_fast_path): it stores and answers a valid
notification from a trusted token itself, and hands every other request on to the
application untouched, body and all, so the route answers it with its reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from starlette.types import Message, Receive, Scope, Send

from service.api.app import create_api
from service.api.intake import trusted_tokens
from service.api.intake_fast_path import PATH, AlertmanagerFastPath
from service.auth.tokens import Role, create_token
from service.intake.rules import IntakeRules
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.intake.test_alertmanager_webhook import alert, notification


class Application:
    """What stands behind the fast path: records what reached it, answers 418."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def stored(daemon: Daemon) -> int:
    async with daemon.dutyd.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MachineReportRow)) or 0)


async def source_token(daemon: Daemon, name: str = "alertmanager") -> str:
    dutyd = daemon.dutyd
    async with dutyd.sessions.begin() as session:
        return await create_token(session, name=name, role=Role.source, now=dutyd.clock.now())


def client(app: Any, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://dutyd.test",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_trusted_token_s_valid_notification_is_stored_here(daemon: Daemon) -> None:
    behind = Application()
    fast = AlertmanagerFastPath(behind, dutyd=daemon.dutyd, max_body_bytes=10_000)
    token = await source_token(daemon)
    machine = client(fast, token)
    body = json.dumps(notification(alert("f1", station="S1"), alert("f2", station="S2")))

    # Not trusted yet (never looked up): the application looks it up and answers.
    assert (await machine.post(PATH, content=body)).status_code == 418
    assert behind.bodies == [body.encode()] and await stored(daemon) == 0

    await trusted_tokens(daemon.dutyd).authenticate(token)
    answer = await machine.post(PATH, content=body)
    assert answer.status_code == 202
    assert answer.json() == {"source": "alertmanager", "accepted": 2}
    assert len(behind.bodies) == 1 and await stored(daemon) == 2

    # Beyond the rate limit: the route's answer, from here, and nothing stored.
    daemon.dutyd.intake_rules.sources["alertmanager"].rate_per_minute = 1
    daemon.dutyd.intake_pace.buckets.clear()
    assert (await machine.post(PATH, json=notification(alert("f3")))).status_code == 202
    limited = await machine.post(PATH, json=notification(alert("f4")))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert await stored(daemon) == 3 and len(behind.bodies) == 1
    await machine.aclose()


async def test_anything_else_goes_on_whole(daemon: Daemon) -> None:
    behind = Application()
    fast = AlertmanagerFastPath(behind, dutyd=daemon.dutyd, max_body_bytes=1_000)
    token = await source_token(daemon)
    stranger = await source_token(daemon, "not-a-source")
    for known in (token, stranger):
        await trusted_tokens(daemon.dutyd).authenticate(known)
    machine = client(fast, token)
    valid = json.dumps(notification(alert("g1"))).encode()
    nul = valid.replace(b'"g1"', b'"g\\u00001"')
    large = json.dumps(notification(alert("g1"), alert("g2"), alert("g3"))).encode()
    assert len(valid) < 1_000 < len(large)  # a valid notification, only too large

    async def in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(large), 300):
            yield large[start : start + 300]

    sent = [
        await machine.post(PATH, content=b"<xml/>", headers={"content-type": "application/json"}),
        await machine.post(PATH, content=nul, headers={"content-type": "application/json"}),
        await machine.post(PATH, content=large),  # declared too long
        await machine.post(PATH, content=in_pieces()),  # streamed too long
        await machine.post("/api/v1/intake/heartbeat", content=valid),
        await machine.post(PATH + "?x=%00", content=valid),  # the app checks a query
        await client(fast, stranger).post(PATH, content=valid),  # reports for no source
        await client(fast, "dutyd_wrong").post(PATH, content=valid),
    ]
    assert [answer.status_code for answer in sent] == [418] * 8
    assert behind.bodies == [b"<xml/>", nul, large, large, valid, valid, valid, valid]
    assert await stored(daemon) == 0
    await machine.aclose()


async def test_same_answers_as_the_route(daemon: Daemon) -> None:
    """Through the whole application: the first request trusts the token, the rest take the
    fast path; refusals are the route's own, with the field that is wrong."""
    dutyd = daemon.dutyd
    machine = await api_client(dutyd, Role.source, "alertmanager")
    first = await machine.post(PATH, json=notification(alert("h1", station="S9")))
    fast = await machine.post(PATH, json=notification(alert("h2", station="S9")))
    assert first.json() == fast.json() == {"source": "alertmanager", "accepted": 1}
    refused = await machine.post(PATH, json={"version": "4"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][0] == "body"
    assert await stored(daemon) == 2
    await machine.aclose()


async def test_a_store_that_fails_is_a_503_and_nothing_stored(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    machine = await api_client(dutyd, Role.source, "alertmanager")
    assert (await machine.post(PATH, json=notification(alert("k1")))).status_code == 202

    async def failing(rows: list[dict[str, Any]]) -> bool:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    dutyd.intake_writer.store = failing  # type: ignore[method-assign]
    failed = await machine.post(PATH, json=notification(alert("k2")))
    assert failed.status_code == 503 and failed.headers["retry-after"] == "5"
    assert "nothing was stored" in failed.json()["detail"]
    assert await stored(daemon) == 1
    await machine.aclose()


async def test_a_client_gone_mid_body_is_told_to_the_application(daemon: Daemon) -> None:
    token = await source_token(daemon)
    await trusted_tokens(daemon.dutyd).authenticate(token)
    seen: list[Message] = []

    async def behind(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            seen.append(await receive())
            if seen[-1]["type"] == "http.disconnect":
                return

    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"version":', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return arriving.pop(0)  # only once, as some servers send it

    async def send(message: Message) -> None:
        raise AssertionError("nothing is answered to a client that is gone")

    fast = AlertmanagerFastPath(behind, dutyd=daemon.dutyd, max_body_bytes=1_000)
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }
    await fast(scope, receive, send)
    assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]
    assert seen[0]["body"] == b'{"version":' and seen[0]["more_body"]


async def test_served_ahead_of_the_whole_application(daemon: Daemon) -> None:
    """A storm's request never reaches FastAPI's own layers: the application's middleware
    stack, built on its first request, is not even built for it."""
    token = await source_token(daemon)
    await trusted_tokens(daemon.dutyd).authenticate(token)
    app = create_api(daemon.dutyd, manage_lifecycle=False)
    machine = client(app, token)
    assert (await machine.post(PATH, json=notification(alert("m1")))).status_code == 202
    assert app.middleware_stack is None and await stored(daemon) == 1
    assert (await machine.post(PATH, json={"version": "4"})).status_code == 422  # the route's
    assert app.middleware_stack is not None and await stored(daemon) == 1
    await machine.aclose()


async def test_rules_reloaded_are_asked_again(daemon: Daemon) -> None:
    """What the fast path remembers of a token holds only while the token's row and the
    intake rules are the ones it was decided under."""
    behind = Application()
    fast = AlertmanagerFastPath(behind, dutyd=daemon.dutyd, max_body_bytes=10_000)
    token = await source_token(daemon)
    await trusted_tokens(daemon.dutyd).authenticate(token)
    machine = client(fast, token)
    assert (await machine.post(PATH, json=notification(alert("r1")))).status_code == 202
    daemon.dutyd.intake_rules = IntakeRules()  # reloaded: the token reports for no source
    assert (await machine.post(PATH, json=notification(alert("r2")))).status_code == 418
    assert await stored(daemon) == 1 and len(behind.bodies) == 1
    await machine.aclose()
