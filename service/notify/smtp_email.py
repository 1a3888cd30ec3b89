"""Email through aiosmtplib."""

from __future__ import annotations

import html
import ssl
from collections.abc import Callable, Collection
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
import structlog

from service.clock import Clock
from service.config import SmtpSecurity
from service.errors import DeliveryFailed
from service.notify.transport import OutgoingMessage, Receipt

LinkMaker = Callable[[OutgoingMessage], str | None]
log = structlog.get_logger(__name__)


def classify(exc: BaseException) -> DeliveryFailed:
    """The one place that decides whether an SMTP failure may be retried: by the reply code
    (RFC 5321: 4xx transient, such as greylisting or a full mailbox; 5xx permanent, such as
    550 mailbox unavailable or 535 bad login); no reply at all (server down, connection
    lost, timeout) is transient. What the settings got wrong (the server offers no AUTH or
    STARTTLS that the settings ask for, its certificate does not verify) is permanent:
    trying again cannot help, and it is logged as a configuration error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # Every recipient refused (dutyd sends to one): retry only if each refusal was 4xx.
        codes = [r.code for r in exc.recipients]
        return DeliveryFailed(
            f"smtp refused: {exc}", retryable=bool(codes) and all(400 <= c < 500 for c in codes)
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryFailed(
            f"smtp error {exc.code}: {exc.message}", retryable=400 <= exc.code < 500
        )
    transient = (
        aiosmtplib.SMTPServerDisconnected,
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPTimeoutError,
    )
    if isinstance(exc, ssl.SSLCertVerificationError) or (
        isinstance(exc, aiosmtplib.SMTPException) and not isinstance(exc, transient)
    ):
        log.error(
            "smtp.configuration_error",
            error=str(exc),
            note="the SMTP settings do not fit the server: mail cannot go until they are fixed",
        )
        return DeliveryFailed(f"smtp configuration: {exc}", retryable=False)
    return DeliveryFailed(f"smtp unreachable: {exc!r}", retryable=True)


class SmtpEmailTransport:
    """Plain-text and HTML mail, threaded per incident, with an acknowledgement link."""

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
        ca_file: str | None = None,
        ack_link: LinkMaker | None = None,
    ) -> None:
        self._host, self._port, self._security = host, port, security
        self._username, self._password = username, password
        self._sender, self._timeout, self._clock = sender, timeout_seconds, clock
        self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._ack_link = ack_link

    def build(self, message: OutgoingMessage) -> EmailMessage:
        domain = parseaddr(self._sender)[1].rsplit("@", 1)[-1]
        link = self._ack_link(message) if self._ack_link else None
        text = message.body + (f"\n\n确认收悉 / Acknowledge: {link}\n" if link else "\n")
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(self._clock.now())
        # Stable ids: a resend after a crash is the same message to the mail client, and
        # every message about one incident falls into one thread.
        mail["Message-ID"] = f"<dutyd.message.{message.id}@{domain}>"
        if message.incident_id is not None:
            thread = f"<dutyd.incident.{message.incident_id}@{domain}>"
            mail["In-Reply-To"] = thread
            mail["References"] = thread
        mail.set_content(text)
        button = (
            f'<p><a href="{html.escape(link)}" style="display:inline-block;padding:10px 18px;'
            'background:#c00;color:#fff;text-decoration:none;border-radius:4px">'
            "确认收悉 / Acknowledge</a></p>"
            if link
            else ""
        )
        body = html.escape(message.body).replace("\n", "<br>\n")
        mail.add_alternative(
            f'<!doctype html><html><body style="font-family:sans-serif">'
            f"<p>{body}</p>{button}</body></html>",
            subtype="html",
        )
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
                start_tls=self._security == SmtpSecurity.starttls,
                tls_context=self._tls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise classify(exc) from exc
        return Receipt(transport=self.name, provider_id=mail["Message-ID"], state="sent")

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        return None  # SMTP cannot be asked; a resend carries the same Message-ID

    async def close(self) -> None:
        return None
