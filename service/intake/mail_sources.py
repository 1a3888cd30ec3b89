"""The mail sources of the intake file, started: the built-in SMTP listener of each that
listens (`intake.mailbox`) and the polling of each that has an IMAP mailbox
(`intake.imap_poll`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from service.clock import Clock
from service.errors import ConfigError
from service.intake.imap_poll import ImapPoller
from service.intake.mailbox import MailHandler, MailListener
from service.intake.rules import IntakeRules
from service.intake.signatures import secret_name, source_secret


async def start_mailboxes(
    rules: IntakeRules,
    store: Callable[[list[dict[str, Any]]], Awaitable[None]],
    clock: Clock,
    attachments_dir: Path,
) -> list[MailListener | ImapPoller]:
    """The SMTP listener and the IMAP polling of each mail source of the intake file,
    started."""
    mail = {name: source for name, source in rules.sources.items() if source.kind == "mail"}
    passwords = {}
    for name, source in mail.items():
        if source.imap is not None:  # every password known before anything starts
            password = source_secret(name)
            if password is None:
                raise ConfigError(
                    f"mail source {name}: its IMAP password is not set "
                    f"({secret_name(name)}, or intake_secret_{name} in DUTYD_SECRETS_DIR)"
                )
            passwords[name] = password.decode()
    started: list[MailListener | ImapPoller] = []
    for name, source in mail.items():
        if source.listen:
            host, port = source.listen.rsplit(":", 1)
            handler = MailHandler(name, store, clock, attachments_dir)
            started.append(MailListener(handler, host, int(port)))
        if source.imap is not None:
            started.append(
                ImapPoller(name, source.imap, passwords[name], store, clock, attachments_dir)
            )
    for mailbox in started:
        await mailbox.start()
    return started
