"""A real SMTP server (aiosmtpd) that keeps what it receives, and can be told to refuse."""

from __future__ import annotations

import email
import json
import os
import socket
import time
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from service.clock import Clock
from service.config import SmtpSecurity
from service.notify.smtp_email import SmtpEmailTransport


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class MailSink:
    """`refuse_next` queues (command, reply) answers: ("RCPT", "451 4.7.1 Greylisted") makes
    the next RCPT TO get that reply instead of 250; commands are MAIL, RCPT and DATA."""

    received: list[ReceivedMail] = field(default_factory=list)
    refuse_next: list[tuple[str, str]] = field(default_factory=list)
    record: Path | None = None  # also append each mail (Message-ID, to) as a JSON line

    def _refusal(self, command: str) -> str | None:
        if self.refuse_next and self.refuse_next[0][0] == command:
            return self.refuse_next.pop(0)[1]
        return None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if refusal := self._refusal("MAIL"):
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if refusal := self._refusal("RCPT"):
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if refusal := self._refusal("DATA"):
            return refusal
        mail = ReceivedMail(
            sender=envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
            message=email.message_from_bytes(envelope.original_content, policy=policy.default),
        )
        self.received.append(mail)
        if self.record is not None:
            entry = {
                "event": "accepted",
                "kind": "email",
                "message_id": str(mail.message["Message-ID"] or ""),
                "to": ",".join(mail.recipients),
                "subject": str(mail.message["Subject"] or ""),
                "at": time.time(),
            }
            with self.record.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """A port that takes connections and never says a word: every client times out."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]

    def close(self) -> None:
        self._socket.close()


class SmtpServer:
    def __init__(
        self, port: int | None = None, record: Path | None = None, **controller: Any
    ) -> None:
        self.sink = MailSink(record=record)
        self.port = port or free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **controller)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[ReceivedMail]:
        return self.sink.received


def smtp_transport(port: int, clock: Clock, *, timeout_seconds: float = 5) -> SmtpEmailTransport:
    """dutyd's SMTP transport, in clear and without login, to a server on this machine."""
    return SmtpEmailTransport(
        host="127.0.0.1",
        port=port,
        security=SmtpSecurity.none,
        username=None,
        password=None,
        sender="dutyd@linjiang.example.gov.cn",
        timeout_seconds=timeout_seconds,
        clock=clock,
    )
