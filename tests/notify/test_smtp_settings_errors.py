"""SMTP settings that do not fit the server fail at once and say so; they are not retried
as if the server were only down."""

from __future__ import annotations

import pytest

from service.catalog import Channel
from service.clock import FrozenClock
from service.config import SmtpSecurity
from service.errors import DeliveryFailed
from service.notify.smtp_email import SmtpEmailTransport
from service.notify.transport import OutgoingMessage
from tests.fakes.smtp import SmtpServer

MAIL = OutgoingMessage(
    id=1,
    channel=Channel.email,
    address="sun.li@qingshan.example.gov.cn",
    subject="测试",
    body="测试",
)


def transport(server: SmtpServer, clock: FrozenClock, **settings: object) -> SmtpEmailTransport:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": SmtpSecurity.none,
        "username": None,
        "password": None,
        "sender": "dutyd@linjiang.example.gov.cn",
        "timeout_seconds": 5,
        "clock": clock,
    }
    values.update(settings)
    return SmtpEmailTransport(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"username": "dutyd", "password": "secret"}, "AUTH extension"),
        ({"security": SmtpSecurity.starttls}, "STARTTLS extension"),
    ],
    ids=["login-but-no-auth", "starttls-but-not-offered"],
)
async def test_settings_the_server_cannot_meet_are_permanent(
    smtp_server: SmtpServer, clock: FrozenClock, settings: dict[str, object], reason: str
) -> None:
    """A login set for a server without AUTH, or STARTTLS asked of a server that offers
    none: DeliveryFailed(retryable=False) naming the configuration; nothing is delivered."""
    with pytest.raises(DeliveryFailed) as failure:
        await transport(smtp_server, clock, **settings).send(MAIL)
    assert failure.value.retryable is False
    assert "smtp configuration" in failure.value.reason and reason in failure.value.reason
    assert smtp_server.received == []
