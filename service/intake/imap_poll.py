"""Mail-in from a mailbox on the office's own mail server, polled over IMAP: each message
not yet taken becomes an incident draft, as one sent to the built-in SMTP listener does.

A message is marked taken (the keyword `$DutydStored`, or \\Seen where the server keeps
no keywords) only after its draft is committed: if dutyd stops or the database fails in
between, the message is fetched again next time and stored once (its Message-ID, or the
mailbox's UIDVALIDITY and its UID, is the draft's idempotency key). Messages are read
with BODY.PEEK, so a person reading the same mailbox still sees them unread. The blocking
IMAP client (IMAPClient) runs in a worker thread, so the event loop never waits on the server."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from service import metrics
from service.clock import Clock
from service.intake.mailbox import mail_row
from service.intake.rules import ImapMailbox

log = structlog.get_logger(__name__)
TAKEN = "$DutydStored"
MAX_PER_ROUND = 50  # a full mailbox is taken in rounds, each committed before the next
TIMEOUT = 30.0  # seconds a server may take to answer


class ImapProblem(Exception):
    """The server refused or failed something: said with what, for the log and the count."""


@dataclass
class Fetched:
    uidvalidity: int
    messages: list[tuple[int, bytes]]  # (UID, the whole message)
    flag: str  # what marks a message taken on this server


class ImapSession:
    """One connection to the mailbox: blocking calls, made from a worker thread."""

    def __init__(self, mailbox: ImapMailbox, password: str) -> None:
        self.mailbox, self.password = mailbox, password
        self.client: IMAPClient | None = None

    def open(self) -> None:
        host, port = self.mailbox.address
        try:
            context = ssl.create_default_context(cafile=self.mailbox.ca_file)
            tls = self.mailbox.security == "tls"
            client = IMAPClient(
                host, port, ssl=tls, ssl_context=context if tls else None, timeout=TIMEOUT
            )
            self.client = client
            if self.mailbox.security == "starttls":
                client.starttls(ssl_context=context)
            client.login(self.mailbox.user, self.password)
        except (OSError, IMAPClientError) as exc:
            raise ImapProblem(f"{host}:{port}: {_said(exc)}") from None

    def fetch_new(self, limit: int) -> Fetched:
        client = self._client()
        try:
            selected = client.select_folder(self.mailbox.folder)
        except IMAPClientError as exc:
            raise ImapProblem(
                f"folder {self.mailbox.folder!r} cannot be opened: {_said(exc)}"
            ) from None
        try:
            keywords = b"\\*" in selected.get(b"PERMANENTFLAGS", ())
            flag = TAKEN if keywords else "\\Seen"
            uids = client.search(["UNKEYWORD", TAKEN] if keywords else ["UNSEEN"])[:limit]
            found = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        except (OSError, IMAPClientError) as exc:
            raise ImapProblem(f"reading {self.mailbox.folder!r}: {_said(exc)}") from None
        # A message expunged meanwhile is simply not among what came back.
        messages = [(uid, found[uid][b"BODY[]"]) for uid in uids if b"BODY[]" in found.get(uid, {})]
        return Fetched(int(selected.get(b"UIDVALIDITY", 0)), messages, flag)

    def mark_taken(self, uids: list[int], flag: str) -> None:
        if uids:
            try:
                self._client().add_flags(uids, [flag], silent=True)
            except (OSError, IMAPClientError) as exc:
                raise ImapProblem(f"marking {len(uids)} message(s) taken: {_said(exc)}") from None

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except (OSError, IMAPClientError):
                pass
            self.client = None

    def _client(self) -> IMAPClient:
        assert self.client is not None, "open() first"
        return self.client


class ImapPoller:
    """The polling of one mail source's mailbox, on this process's event loop."""

    def __init__(
        self,
        source: str,
        mailbox: ImapMailbox,
        password: str,
        store: Callable[[list[dict[str, Any]]], Awaitable[None]],
        clock: Clock,
        attachments_dir: Path,
    ) -> None:
        self.source, self.mailbox, self.password = source, mailbox, password
        self.store, self.clock, self.attachments_dir = store, clock, attachments_dir
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> int:
        """Take what is new, a round at a time until none is left; how many were stored.
        Raises ImapProblem (the server) or the store's error (nothing is marked then)."""
        session = ImapSession(self.mailbox, self.password)
        stored = 0
        try:
            await asyncio.to_thread(session.open)
            while True:
                fetched = await asyncio.to_thread(session.fetch_new, MAX_PER_ROUND)
                if not fetched.messages:
                    return stored
                rows = [
                    mail_row(
                        self.source,
                        raw,
                        self.clock.now(),
                        self.attachments_dir,
                        fallback_key=f"imap:{fetched.uidvalidity}:{uid}",
                    )
                    for uid, raw in fetched.messages
                ]
                await self.store(rows)  # committed: only now are they marked taken
                uids = [uid for uid, _ in fetched.messages]
                await asyncio.to_thread(session.mark_taken, uids, fetched.flag)
                stored += len(rows)
                if len(fetched.messages) < MAX_PER_ROUND:
                    return stored
        finally:
            await asyncio.to_thread(session.close)

    async def _run(self) -> None:
        while True:
            try:
                stored = await self.poll_once()
                if stored:
                    log.info("mail.imap_stored", source=self.source, messages=stored)
            except ImapProblem as exc:
                metrics.MACHINE_REPORTS.labels(source=self.source, outcome="imap_error").inc()
                log.warning("mail.imap_failed", source=self.source, problem=str(exc))
            except Exception:  # the store, or a message that would not parse: next time
                metrics.MACHINE_REPORTS.labels(source=self.source, outcome="imap_error").inc()
                log.exception("mail.imap_not_stored", source=self.source)
            await asyncio.sleep(self.mailbox.every_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        host, port = self.mailbox.address
        log.info("mail.polling", source=self.source, host=host, port=port, user=self.mailbox.user)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _said(problem: BaseException) -> str:
    first = problem.args[0] if problem.args else None
    said = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(problem)
    return (said or type(problem).__name__)[:300]
