"""Relay from upstream, against a started daemon on SQLite and PostgreSQL: the weather
bureau's CAP POSTed or polled from its feed, relayed at once or drafted for review by
rule, updated and lifted by its own Update and Cancel; repeats, strangers and hostile
documents changing nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.app import Dutyd
from service.auth.tokens import Role
from service.errors import NotFound
from service.flows.warning_relay import ingest_cap
from service.flows.warning_relay_poll import RelayPoller, poll_all
from service.warnings import service
from service.warnings.atom import AtomEntry, render_atom
from service.warnings.cap import CapRefused, render_cap
from service.warnings.cap_parse import parse_cap
from service.warnings.models import (
    Area,
    CapAlert,
    CapInfo,
    CapReference,
    CapStatus,
    Colour,
    MsgType,
    Stage,
)
from service.warnings.relay_rules import RelayRule, RelayRules, RelaySource
from service.warnings.relay_tables import RelayedWarningRow
from service.warnings.tables import WarningRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.warnings.test_warning_flow import deliver_all, sent_by_recipient
from tests.warnings.warning_helpers import (
    CITY_APPROVER,
    desk,
    hours,
    load_recipients,
    recipients_csv,
)

SENDER = "weather@jiangnan.example.gov.cn"
TOKEN = "jiangnan-weather"
CAP = {"content-type": "application/cap+xml"}
SEVERITY = {"red": "Extreme", "orange": "Severe", "yellow": "Moderate", "blue": "Minor"}
COLOUR_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def relay_rules(feed_url: str | None = None) -> RelayRules:
    return RelayRules(
        sources=[RelaySource(name="jiangnan", sender=SENDER, token_name=TOKEN, feed_url=feed_url)],
        rules=[
            # A red rainstorm over Qingshan goes out at once, for Qingshan's codes only.
            RelayRule(
                name="red-rain-qingshan",
                hazards=["rainstorm"],
                min_colour=Colour.red,
                geocodes=["339901"],
                action="relay",
                unit="qingshan",
            ),
            # Anything of the weather over Hexi, yellow or worse: a draft to review.
            RelayRule(
                name="hexi-weather",
                min_colour=Colour.yellow,
                geocodes=["339902"],
                action="draft",
                unit="hexi",
            ),
        ],
    )


def use_relay(dutyd: Dutyd, feed_url: str | None = None) -> None:
    dutyd.warning_rules = dutyd.warning_rules.model_copy(update={"relay": relay_rules(feed_url)})


def upstream(
    dutyd: Dutyd,
    identifier: str,
    *,
    colour: str = "red",
    codes: tuple[str, ...] = ("339901", "339902"),
    event: str = "暴雨",
    msg_type: MsgType = MsgType.Alert,
    references: tuple[tuple[str, datetime], ...] = (),
    sender: str = SENDER,
    sent: datetime | None = None,
) -> bytes:
    """An upstream bureau's CAP message, as its own producer would render it."""
    now = sent or dutyd.clock.now()
    zh, en = COLOUR_ZH[colour], colour.capitalize()
    infos = [
        CapInfo(
            language="zh-CN",
            category="Met",
            event=f"{event}{zh}预警",
            urgency="Immediate",
            severity=SEVERITY[colour],
            certainty="Likely",
            effective=now,
            expires=now + hours(12),
            sender_name="江南省气象台",
            headline=f"江南省气象台发布{event}{zh}预警",
            description=f"受强对流影响，预计未来3小时{event}。",
            instruction="请远离危险区域。",
            parameters=[("colour", colour)],
            areas=[Area(description="青山县、河西县", codes=list(codes))],
        ),
        CapInfo(
            language="en-US",
            category="Met",
            event=f"{en} rainstorm warning",
            urgency="Immediate",
            severity=SEVERITY[colour],
            certainty="Likely",
            expires=now + hours(12),
            headline=f"{en} rainstorm warning from Jiangnan Meteorological Observatory",
            description="Heavy rain within 3 hours.",
            areas=[Area(description="Qingshan, Hexi", codes=list(codes))],
        ),
    ]
    return render_cap(
        CapAlert(
            identifier=identifier,
            sender=sender,
            sent=now,
            status=CapStatus.Actual,
            msg_type=msg_type,
            references=[CapReference(sender=SENDER, identifier=i, sent=s) for i, s in references],
            infos=infos,
        )
    )


async def count(dutyd: Dutyd, table: type[Any]) -> int:
    async with dutyd.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


async def steps(dutyd: Dutyd, warning_id: int) -> list[tuple[str, str, str]]:
    async with dutyd.sessions() as session:
        return [(s.step, s.actor, s.comment) for s in await service.steps_of(session, warning_id)]


async def warning(dutyd: Dutyd, warning_id: int) -> WarningRow:
    async with dutyd.sessions() as session:
        return await service.get_warning(session, warning_id)


async def test_a_red_rainstorm_is_relayed_at_once_updated_and_lifted(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    use_relay(dutyd)
    await load_recipients(dutyd, recipients_csv(qingshan=6, hexi=4, elsewhere=3))
    bureau = await api_client(dutyd, Role.warning_drafter, TOKEN)
    other = await api_client(dutyd, Role.warning_drafter, "someone-else")
    sent = dutyd.clock.now()
    alert = upstream(dutyd, "330000QX_20260715100000_1")

    assert (
        await other.post("/api/v1/relay/jiangnan", content=alert, headers=CAP)
    ).status_code == 403
    assert (
        await bureau.post("/api/v1/relay/nowhere", content=alert, headers=CAP)
    ).status_code == 404
    wrong_type = await bureau.post("/api/v1/relay/jiangnan", content=alert)
    assert wrong_type.status_code == 415
    answer = await bureau.post("/api/v1/relay/jiangnan", content=alert, headers=CAP)
    assert answer.status_code == 200, answer.text
    taken = answer.json()
    assert taken["outcome"] == "relayed" and taken["rule"] == "red-rain-qingshan"
    ours = await warning(dutyd, taken["warning_id"])
    assert ours.stage == Stage.published and ours.unit_id == "qingshan" and ours.level == "I"
    assert ours.drafted_by == "relay:jiangnan" and ours.signed_by == "relay-rule:red-rain-qingshan"
    history = await steps(dutyd, ours.id)
    assert [s for s, _, _ in history] == ["drafted", "relayed", "published"]
    assert f"relayed from {SENDER} 330000QX_20260715100000_1" in history[1][2]
    # Narrowed to the rule's codes: Qingshan's six are told, Hexi's four and the rest not.
    content = service.content_of(ours)
    assert [c for a in content.areas for c in a.codes] == ["339901"]
    assert content.texts[0].headline == "江南省气象台发布暴雨红色预警"
    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    assert set(told) == {f"+86139000{i:05d}" for i in range(6)}, told
    bodies = [m.body for m in daemon.transport.sent]  # type: ignore[union-attr]
    assert all("暴雨红色预警" in b for b in bodies), bodies

    # The same message again (a retry, the feed and a push): nothing changes.
    again = await bureau.post("/api/v1/relay/jiangnan", content=alert, headers=CAP)
    assert again.status_code == 200 and again.json()["outcome"] == "repeat"
    assert await count(dutyd, WarningRow) == 1 and await count(dutyd, RelayedWarningRow) == 1

    # Another sender under this source's token is refused, and nothing is stored.
    forged = upstream(dutyd, "330000QX_20260715100000_9", sender="weather@elsewhere.example")
    refused = await bureau.post("/api/v1/relay/jiangnan", content=forged, headers=CAP)
    assert refused.status_code == 403 and "weather@elsewhere.example" in refused.text
    assert await count(dutyd, RelayedWarningRow) == 1

    # The upstream Update: ours is updated (still red: relayed at once) and references ours.
    dutyd.clock.advance(hours(1))
    update = upstream(
        dutyd,
        "330000QX_20260715110000_2",
        msg_type=MsgType.Update,
        references=(("330000QX_20260715100000_1", sent),),
    )
    daemon.transport.sent.clear()  # type: ignore[union-attr]
    updated = (await bureau.post("/api/v1/relay/jiangnan", content=update, headers=CAP)).json()
    assert updated["outcome"] == "updated", updated
    ours_update = await warning(dutyd, updated["warning_id"])
    assert ours_update.msg_type == MsgType.Update.value and ours_update.stage == Stage.published
    assert service.root_id_of(ours_update) == ours.id
    assert (await warning(dutyd, ours.id)).stage == Stage.superseded
    update_cap = parse_cap((ours_update.cap_xml or "").encode())
    assert [r.identifier for r in update_cap.references] == [ours.identifier]
    await deliver_all(daemon)
    assert len(await sent_by_recipient(daemon)) == 6

    # The upstream Cancel lifts ours: our Cancel references both of ours, reaches those told.
    dutyd.clock.advance(hours(1))
    cancel = upstream(
        dutyd,
        "330000QX_20260715120000_3",
        msg_type=MsgType.Cancel,
        references=(
            ("330000QX_20260715100000_1", sent),
            ("330000QX_20260715110000_2", sent + hours(1)),
        ),
    )
    daemon.transport.sent.clear()  # type: ignore[union-attr]
    lifted = (await bureau.post("/api/v1/relay/jiangnan", content=cancel, headers=CAP)).json()
    assert lifted["outcome"] == "lifted", lifted
    our_cancel = await warning(dutyd, lifted["warning_id"])
    assert our_cancel.msg_type == MsgType.Cancel.value and our_cancel.stage == Stage.published
    assert (await warning(dutyd, ours_update.id)).stage == Stage.cancelled
    cancel_cap = parse_cap((our_cancel.cap_xml or "").encode())
    assert cancel_cap.msg_type is MsgType.Cancel
    assert {r.identifier for r in cancel_cap.references} == {
        ours.identifier,
        ours_update.identifier,
    }
    assert [s for s, _, _ in await steps(dutyd, our_cancel.id)] == [
        "lifted",
        "published",
        "relayed",
    ]
    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    assert set(told) == {f"+86139000{i:05d}" for i in range(6)}
    lifts = [m.body for m in daemon.transport.sent if m.channel == "sms"]  # type: ignore[union-attr]
    assert lifts and all("解除" in b for b in lifts), lifts
    # Cancelling again: recorded, nothing in force to lift.
    late = upstream(
        dutyd,
        "330000QX_20260715130000_4",
        msg_type=MsgType.Cancel,
        references=(("330000QX_20260715100000_1", sent),),
    )
    answer = await bureau.post("/api/v1/relay/jiangnan", content=late, headers=CAP)
    assert answer.json()["outcome"] == "ignored" and await count(dutyd, WarningRow) == 3
    for client in (bureau, other):
        await client.aclose()


async def test_a_draft_rule_drafts_for_review_and_follows_upstream(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    use_relay(dutyd)
    await load_recipients(dutyd, recipients_csv(qingshan=2, hexi=3))
    bureau = await api_client(dutyd, Role.warning_drafter, TOKEN)
    sent = dutyd.clock.now()
    alert = upstream(dutyd, "330000QX_20260715100000_7", colour="yellow", codes=("339902",))
    taken = (await bureau.post("/api/v1/relay/jiangnan", content=alert, headers=CAP)).json()
    assert taken["outcome"] == "drafted" and taken["rule"] == "hexi-weather", taken
    ours = await warning(dutyd, taken["warning_id"])
    assert ours.stage == Stage.in_review and ours.unit_id == "hexi" and ours.level == "III"
    assert ours.identifier is None and ours.published_at is None
    assert [s for s, _, _ in await steps(dutyd, ours.id)] == ["drafted", "received", "submitted"]
    await deliver_all(daemon)
    assert daemon.transport.sent == []  # type: ignore[union-attr]
    # A person reviews it: the relay drafted it, so anyone with the role may.
    reviewer = await api_client(dutyd, Role.warning_approver, CITY_APPROVER.name)
    reviewed = await reviewer.post(
        f"/api/v1/warnings/{ours.id}/review", json={"approve": True, "comment": "同意"}
    )
    assert reviewed.status_code == 200, reviewed.text

    # Upgraded upstream before it went out: the draft takes the new text, its reviews restart.
    update = upstream(
        dutyd,
        "330000QX_20260715103000_8",
        colour="orange",
        codes=("339902",),
        msg_type=MsgType.Update,
        references=(("330000QX_20260715100000_7", sent),),
    )
    updated = (await bureau.post("/api/v1/relay/jiangnan", content=update, headers=CAP)).json()
    assert updated["outcome"] == "updated" and updated["warning_id"] == ours.id, updated
    ours = await warning(dutyd, ours.id)
    assert ours.stage == Stage.in_review and ours.level == "II"
    assert [s for s, _, _ in await steps(dutyd, ours.id)][-3:] == [
        "edited",
        "received",
        "submitted",
    ]

    # Cancelled upstream before it went out: withdrawn, nothing sent ever.
    cancel = upstream(
        dutyd,
        "330000QX_20260715110000_9",
        codes=("339902",),
        msg_type=MsgType.Cancel,
        references=(("330000QX_20260715100000_7", sent),),
    )
    withdrawn = (await bureau.post("/api/v1/relay/jiangnan", content=cancel, headers=CAP)).json()
    assert withdrawn["outcome"] == "withdrawn", withdrawn
    assert (await warning(dutyd, ours.id)).stage == Stage.cancelled
    await deliver_all(daemon)
    assert daemon.transport.sent == []  # type: ignore[union-attr]

    # What no rule takes (blue over Hexi, fog over nobody's land) is recorded and ignored.
    for identifier, colour, codes, event in (
        ("330000QX_20260715120000_10", "blue", ("339902",), "暴雨"),
        ("330000QX_20260715120000_11", "red", ("440100",), "大雾"),
    ):
        message = upstream(dutyd, identifier, colour=colour, codes=codes, event=event)
        answer = (await bureau.post("/api/v1/relay/jiangnan", content=message, headers=CAP)).json()
        assert answer["outcome"] == "ignored" and "no relay rule" in answer["detail"], answer
    assert await count(dutyd, WarningRow) == 1 and await count(dutyd, RelayedWarningRow) == 5
    for client in (bureau, reviewer):
        await client.aclose()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol5;</identifier></alert>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/evil.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>
"""


async def test_hostile_and_broken_documents_are_refused(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    use_relay(dutyd)
    bureau = await api_client(dutyd, Role.warning_drafter, TOKEN)
    for hostile in (BILLION_LAUGHS, XXE, EXTERNAL_DTD):
        answer = await bureau.post("/api/v1/relay/jiangnan", content=hostile, headers=CAP)
        assert answer.status_code == 400, answer.text
        assert "DTDs and entities are not accepted" in answer.json()["detail"]
        assert "root:" not in answer.text and "lollol" not in answer.text
    broken = upstream(dutyd, "330000QX_20260715100000_1").replace(b"<status>", b"<state>", 1)
    answer = await bureau.post(
        "/api/v1/relay/jiangnan", content=broken, headers={"content-type": "application/xml"}
    )
    assert answer.status_code == 422 and "line" in answer.text, answer.text
    # The flow itself raises them to its caller (the API, the poller), unexpanded.
    async with dutyd.sessions.begin() as session:
        with pytest.raises(CapRefused, match="DTDForbidden"):
            await ingest_cap(session, desk(dutyd), BILLION_LAUGHS, source_name="jiangnan")
        with pytest.raises(NotFound):
            await ingest_cap(session, desk(dutyd), broken, source_name="nowhere")
    assert await count(dutyd, RelayedWarningRow) == 0 and await count(dutyd, WarningRow) == 0
    await bureau.aclose()


class Upstream:
    """The bureau's web server: an Atom feed and its CAP documents, on a local port."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, entries: list[tuple[str, bytes]], now: datetime) -> None:
        """The feed, newest first (as feeds are), of CAP documents served at their paths."""
        atom = []
        for path, document in entries:
            self.files[path] = document
            atom.append(
                AtomEntry(
                    id=f"{self.url}{path}",
                    title=path,
                    updated=now,
                    summary=path,
                    cap_url=path if not path.startswith("//") else f"http:{path}",
                    language="zh-CN",
                    colour=Colour.red,
                )
            )
        self.files["/feed.atom"] = render_atom(
            "urn:jiangnan:feed", "江南省气象台", f"{self.url}/feed.atom", now, atom
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bureau_server() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


async def test_polling_the_feed_takes_in_what_is_new(
    daemon: Daemon, bureau_server: Upstream
) -> None:
    dutyd = daemon.dutyd
    use_relay(dutyd, f"{bureau_server.url}/feed.atom")
    await load_recipients(dutyd, recipients_csv(qingshan=3, hexi=0))
    sent = dutyd.clock.now()
    first = upstream(dutyd, "330000QX_20260715100000_1")
    then = upstream(
        dutyd,
        "330000QX_20260715101000_2",
        msg_type=MsgType.Update,
        references=(("330000QX_20260715100000_1", sent),),
        sent=sent + hours(1 / 6),
    )
    bureau_server.publish(
        [
            ("/cap/2.xml", then),  # newest first: the Update is listed before its Alert
            ("/cap/1.xml", first),
            ("/cap/evil.xml", XXE),
            ("//169.254.169.254/latest/meta-data", b""),  # another host: never fetched
        ],
        sent,
    )
    polled = await poll_all(dutyd)
    outcomes = [(o.identifier, o.outcome) for o in polled["jiangnan"]]
    assert outcomes == [
        ("330000QX_20260715100000_1", "relayed"),
        ("330000QX_20260715101000_2", "updated"),
    ]
    assert not any("meta-data" in path for path in bureau_server.requests)
    assert await count(dutyd, RelayedWarningRow) == 2
    async with dutyd.sessions() as session:
        urls = set(await session.scalars(select(RelayedWarningRow.url)))
    assert urls == {f"{bureau_server.url}/cap/1.xml", f"{bureau_server.url}/cap/2.xml"}
    await deliver_all(daemon)
    assert len(await sent_by_recipient(daemon)) == 3

    # The next poll reads the feed and fetches nothing it took in before.
    bureau_server.requests.clear()
    assert (await poll_all(dutyd))["jiangnan"] == []
    assert "/cap/1.xml" not in bureau_server.requests
    # The daemon's poller: the first call polls (a new entry comes in), the next is not due.
    bureau_server.publish(
        [("/cap/3.xml", upstream(dutyd, "330000QX_20260715102000_3", colour="yellow"))], sent
    )
    poller = RelayPoller(dutyd)
    assert await poller.poll_due() == 1
    assert await poller.poll_due() == 0
    async with dutyd.sessions() as session:
        hexi = await session.scalar(select(WarningRow).where(WarningRow.unit_id == "hexi"))
    assert hexi is not None and hexi.stage == Stage.in_review
    # A feed that is down, or not a feed, is logged and left for the next poll.
    bureau_server.files["/feed.atom"] = b"<html>maintenance</html>"
    assert (await poll_all(dutyd))["jiangnan"] == []
    bureau_server.files.pop("/feed.atom")
    async with httpx.AsyncClient() as client:
        assert (await poll_all(dutyd, client=client))["jiangnan"] == []
