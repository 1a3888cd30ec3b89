"""Mail-in: a message to the duty mailbox becomes an incident draft for the officer to
confirm. A built-in SMTP listener (aiosmtpd) accepts a message only once it is committed
(the sending server keeps and retries whatever it was not told 250 for); the sender, the
subject, the text and the attachments are kept."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from service.clock import Clock

log = structlog.get_logger(__name__)
DRAFT = "draft"
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
MAX_TEXT = 20_000


def mail_row(
    source: str,
    raw: bytes,
    received_at: datetime,
    attachments_dir: Path,
    *,
    fallback_key: str | None = None,
) -> dict[str, Any]:
    """The draft a message becomes; its attachments are written under `attachments_dir`,
    named by their SHA-256 (the same file twice is kept once). A message without a
    Message-ID is stored once by `fallback_key`, where its mailbox gives one."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    kept = []
    for part in message.iter_attachments():
        content = part.get_payload(decode=True) or b""
        digest = hashlib.sha256(content).hexdigest()
        attachments_dir.mkdir(parents=True, exist_ok=True)
        (attachments_dir / digest).write_bytes(content)
        kept.append(
            {
                "filename": part.get_filename() or "attachment",
                "content_type": part.get_content_type(),
                "bytes": len(content),
                "sha256": digest,
            }
        )
    sender = str(message.get("From", ""))[:300]
    subject = str(message.get("Subject", ""))[:300]
    message_id = str(message.get("Message-ID", "")).strip()[:200] or fallback_key
    return {
        "source": source,
        "received_at": received_at,
        "status": "mail",
        "fingerprint": hashlib.sha256(raw).hexdigest()[:32],
        # A server that resends a message it was not sure we kept: stored once.
        "idempotency_key": message_id,
        "labels": {"from": sender, "subject": subject},
        "annotations": {"text": str(text)[:MAX_TEXT], "attachments": kept},
        "state": DRAFT,
        "incident_id": None,
        "detail": "",
        "worked_at": None,
    }


class MailHandler:
    def __init__(
        self,
        source: str,
        store: Callable[[list[dict[str, Any]]], Awaitable[None]],
        clock: Clock,
        attachments_dir: Path,
    ) -> None:
        self.source, self.store, self.clock = source, store, clock
        self.attachments_dir = attachments_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            row = mail_row(self.source, raw, self.clock.now(), self.attachments_dir)
            await self.store([row])
        except Exception:  # the sender keeps the message and tries again later
            log.exception("mail.not_stored", source=self.source)
            return "451 could not store the message now; try again later"
        log.info("mail.stored", source=self.source, sender=row["labels"]["from"])
        return "250 stored as an incident draft"


class MailListener:
    """The SMTP listener of one mail source, on this process's event loop."""

    def __init__(self, handler: MailHandler, host: str, port: int) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True),
            host=self.host,
            port=self.port,
        )
        log.info("mail.listening", source=self.handler.source, host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
