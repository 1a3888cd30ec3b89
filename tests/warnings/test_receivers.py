"""Pushing CAP to downstream receivers: a real HTTP receiver started by the test gets each
published message (signed where a key is set), a refusal is retried, a drill goes only to
receivers that take drills."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from service.catalog import Level
from service.flows import warnings as flow
from service.warnings.cap import validate_cap
from service.warnings.cap_parse import parse_cap
from service.warnings.cap_sign import verify_cap
from service.warnings.models import CapStatus, MsgType
from service.warnings.workflow import Receiver
from tests.conftest import Daemon
from tests.warnings.test_warning_flow import deliver_all
from tests.warnings.warning_helpers import COUNTY_HEAD, DRAFTER, LEADER, desk, hours, rainstorm


class Receiving(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bodies: list[bytes] = []
        self.refuse_next = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/cap"


class Handler(BaseHTTPRequestHandler):
    server: Receiving

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.server.refuse_next:
            self.server.refuse_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        assert self.headers["content-type"].startswith("application/cap+xml")
        self.server.bodies.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiving]:
    server = Receiving()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def key_and_certificate() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "linjiang warnings")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return (
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM),
    )


async def publish_at_once(
    daemon: Daemon, signing: tuple[bytes, bytes] | None, **extra: object
) -> int:
    dutyd = daemon.dutyd
    content = rainstorm(Level.I, ["339901"], dutyd.clock.now() + hours(6), **extra)
    async with dutyd.sessions.begin() as session:
        row = await flow.draft_warning(
            session, desk(dutyd), content, unit_id="qingshan", actor=DRAFTER
        )
    the_desk = flow.WarningDesk(
        dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now(), signing
    )
    async with dutyd.sessions.begin() as session:
        await flow.publish_at_once(session, the_desk, row.id, COUNTY_HEAD, reason="红色预警")
    return row.id


async def test_every_published_message_reaches_the_receivers(
    daemon: Daemon, receiver: Receiving
) -> None:
    dutyd = daemon.dutyd
    dutyd.warning_rules = dutyd.warning_rules.model_copy(
        update={
            "receivers": [
                Receiver(name="tv", url=receiver.url),
                Receiver(name="drills", url=receiver.url + "?drills", drills=True),
            ]
        }
    )
    signing = key_and_certificate()
    receiver.refuse_next = 1  # the first push is refused: it is retried
    warning_id = await publish_at_once(daemon, signing)
    await deliver_all(daemon)
    dutyd.clock.advance(timedelta(minutes=5))
    await deliver_all(daemon)
    assert len(receiver.bodies) == 2
    for body in receiver.bodies:
        validate_cap(body)  # signed, and still valid CAP
        verified = verify_cap(body, signing[1])
        assert parse_cap(verified).msg_type is MsgType.Alert
    async with dutyd.sessions() as session:
        view = await flow.service.get_warning(session, warning_id)
        from service.warnings.views import warning_stats

        stats = await warning_stats(session, view)
    assert stats.by_channel["cap"].delivered == 2

    # The lift goes to them too; a drill only to the receiver that takes drills.
    receiver.bodies.clear()
    async with dutyd.sessions.begin() as session:
        await flow.lift_warning(session, desk(dutyd), warning_id, LEADER, reason="解除")
    await deliver_all(daemon)
    assert [parse_cap(b).msg_type for b in receiver.bodies] == [MsgType.Cancel] * 2
    receiver.bodies.clear()
    await publish_at_once(daemon, None, status=CapStatus.Exercise)
    await deliver_all(daemon)
    assert len(receiver.bodies) == 1 and parse_cap(receiver.bodies[0]).status is CapStatus.Exercise
