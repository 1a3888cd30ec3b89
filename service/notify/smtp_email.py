"""Email through aiosmtplib."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from service.clock import Clock
from service.config import SmtpSecurity
from service.errors import DeliveryFailed
from service.notify.transport import OutgoingMessage, Receipt


class SmtpEmailTransport:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: SmtpSecurity,
        username: str | None,
        password: str | None,
        sender: str,
        timeout_seconds: float,
        clock: Clock,
    ) -> None:
        self._host, self._port, self._security = host, port, security
        self._username, self._password = username, password
        self._sender, self._timeout, self._clock = sender, timeout_seconds, clock

    def build(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(self._clock.now())
        domain = self._sender.rsplit("@", 1)[-1]
        mail["Message-ID"] = make_msgid(idstring=f"dutyd.{message.id}", domain=domain)
        mail.set_content(message.body)
        return mail

    async def send(self, message: OutgoingMessage) -> Receipt:
        mail = self.build(message)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._security == SmtpSecurity.tls,
                start_tls=True if self._security == SmtpSecurity.starttls else False,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPAuthenticationError) as exc:
            raise DeliveryFailed(f"smtp refused: {exc}", retryable=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"smtp error {exc.code}: {exc.message}",
                retryable=exc.code >= 400 and exc.code < 500,
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"smtp unreachable: {exc!r}", retryable=True) from exc
        return Receipt(transport=self.name, provider_id=mail["Message-ID"], state="sent")

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        return None  # SMTP cannot be asked; a resend carries the same Message-ID

    async def close(self) -> None:
        return None
