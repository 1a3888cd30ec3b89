"""Mail-in by IMAP: dutyd polls a mailbox on a real server (Dovecot, started here), stores
each new message as a draft, and only then marks it taken; nothing is lost when the
database or the server fails in between, and nothing is stored twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.auth.tokens import Role
from service.errors import ConfigError
from service.intake.imap_poll import TAKEN, ImapPoller, ImapProblem, ImapSession
from service.intake.mail_sources import start_mailboxes
from service.intake.rules import ImapMailbox, IntakeRules, load_intake_rules
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.intake.imap_server import ImapServer, dovecot
from tests.intake.test_mail_in import mail


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    with dovecot() as server:
        yield server


def plain_mailbox(server: ImapServer, **changes: Any) -> ImapMailbox:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.plain_port,
        "security": "none",
        "user": server.user,
    }
    return ImapMailbox(**(values | changes))


def poller(daemon: Daemon, server: ImapServer, **changes: Any) -> ImapPoller:
    dutyd = daemon.dutyd
    return ImapPoller(
        "duty_mailbox",
        plain_mailbox(server, **changes),
        server.password,
        dutyd.intake_writer.store,
        dutyd.clock,
        dutyd.settings.data_dir / "att",
    )


async def drafts(daemon: Daemon) -> list[dict[str, Any]]:
    desk = await api_client(daemon.dutyd, Role.duty_officer, "desk")
    try:
        return list((await desk.get("/api/v1/intake/drafts")).json())
    finally:
        await desk.aclose()


async def stored(daemon: Daemon) -> int:
    async with daemon.dutyd.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MachineReportRow)) or 0)


def without_message_id(subject: str) -> bytes:
    message = mail(subject)
    del message["Message-ID"]
    return bytes(message)


async def test_new_mail_becomes_drafts_once(daemon: Daemon, imap: ImapServer) -> None:
    report = b"%PDF-1.4 rainfall report"
    imap.append(bytes(mail("青山水库超汛限", attachment=report)))
    imap.append(without_message_id("河西镇降雨量报告"))
    polling = poller(daemon, imap)

    assert await polling.poll_once() == 2
    found = await drafts(daemon)
    assert [d["subject"] for d in found] == ["青山水库超汛限", "河西镇降雨量报告"]
    assert "duty@water.qingshan.example.gov.cn" in found[0]["sender"]
    assert "超汛限0.3米" in found[0]["text"]
    kept = daemon.dutyd.settings.data_dir / "att" / found[0]["attachments"][0]["sha256"]
    assert kept.read_bytes() == report
    # Marked taken, and still unread for a person who reads the same mailbox.
    assert all(TAKEN in flags and "\\Seen" not in flags for flags in imap.flags())

    assert await polling.poll_once() == 0  # nothing new
    imap.append(bytes(mail("会议通知")))
    assert await polling.poll_once() == 1
    assert await stored(daemon) == 3


async def test_a_store_that_fails_marks_nothing(daemon: Daemon, imap: ImapServer) -> None:
    imap.append(bytes(mail("青山水库超汛限")))
    polling = poller(daemon, imap)

    async def failing(rows: list[dict[str, Any]]) -> None:
        raise OSError("disk full")

    polling.store = failing
    with pytest.raises(OSError):
        await polling.poll_once()
    assert all(TAKEN not in flags for flags in imap.flags())
    polling.store = daemon.dutyd.intake_writer.store
    assert await polling.poll_once() == 1 and await stored(daemon) == 1


async def test_stored_but_not_marked_is_stored_once(
    daemon: Daemon, imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dutyd stopped (or the server failed) after the commit, before the mark: the
    messages come again and are kept once, by Message-ID or by UIDVALIDITY and UID."""
    imap.append(bytes(mail("青山水库超汛限")))
    imap.append(without_message_id("河西镇降雨量报告"))
    polling = poller(daemon, imap)

    def refused(self: ImapSession, uids: list[int], flag: str) -> None:
        raise ImapProblem("connection lost")

    with monkeypatch.context() as patched:
        patched.setattr(ImapSession, "mark_taken", refused)
        with pytest.raises(ImapProblem):
            await polling.poll_once()
    assert await stored(daemon) == 2
    assert await polling.poll_once() == 2  # fetched again, kept once
    assert await stored(daemon) == 2
    assert await polling.poll_once() == 0


async def test_tls_with_the_office_ca(daemon: Daemon, imap: ImapServer) -> None:
    imap.append(bytes(mail("青山水库超汛限")))
    tls = {"port": imap.tls_port, "security": "tls"}
    with pytest.raises(ImapProblem, match="CERTIFICATE_VERIFY_FAILED"):
        await poller(daemon, imap, **tls).poll_once()
    assert await poller(daemon, imap, **tls, ca_file=imap.ca_file).poll_once() == 1
    starttls = {"security": "starttls", "ca_file": imap.ca_file}
    imap.append(bytes(mail("会议通知")))
    assert await poller(daemon, imap, **starttls).poll_once() == 1


async def test_wrong_password_and_folder_are_said_and_a_chinese_folder_works(
    daemon: Daemon, imap: ImapServer
) -> None:
    polling = poller(daemon, imap)
    polling.password = "wrong"
    with pytest.raises(ImapProblem, match=r"AUTHENTICATIONFAILED|[Aa]uthentication failed"):
        await polling.poll_once()
    with pytest.raises(ImapProblem, match="folder '值班' cannot be opened"):
        await poller(daemon, imap, folder="值班").poll_once()
    assert await stored(daemon) == 0
    imap.append(bytes(mail("青山水库超汛限")), folder="值班")  # named in modified UTF-7
    assert await poller(daemon, imap, folder="值班").poll_once() == 1


async def test_the_daemon_polls_what_the_intake_file_names(
    daemon: Daemon, imap: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dutyd = daemon.dutyd
    rules = IntakeRules.model_validate(
        {"sources": {"duty_mailbox": {"kind": "mail", "imap": plain_mailbox(imap).model_dump()}}}
    )
    store, att = dutyd.intake_writer.store, dutyd.settings.data_dir / "att"
    with pytest.raises(ConfigError, match="DUTYD_INTAKE_SECRET_DUTY_MAILBOX"):
        await start_mailboxes(rules, store, dutyd.clock, att)
    monkeypatch.setenv("DUTYD_INTAKE_SECRET_DUTY_MAILBOX", imap.password)
    imap.append(bytes(mail("青山水库超汛限")))
    started = await start_mailboxes(rules, store, dutyd.clock, att)
    try:
        (polling,) = started
        assert isinstance(polling, ImapPoller)
        for _ in range(200):  # its first round starts at once
            if await stored(daemon):
                break
            await asyncio.sleep(0.02)  # the server's round trip, not a timer
        assert await stored(daemon) == 1
    finally:
        for mailbox in started:
            await mailbox.stop()


def test_a_password_in_the_clear_only_to_this_machine(tmp_path: Path) -> None:
    intake = tmp_path / "intake.yaml"
    intake.write_text(
        "sources:\n"
        "  duty_mailbox:\n"
        "    kind: mail\n"
        "    imap:\n"
        "      host: mail.linjiang.example.gov.cn\n"
        "      security: none\n"
        "      user: duty\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_intake_rules(intake)
    said = str(refused.value)
    assert "intake.yaml:4" in said or "intake.yaml:5" in said, said
    assert "in the clear" in said and "use tls or starttls" in said
    assert ImapMailbox(host="mail.example.cn", user="duty").address == ("mail.example.cn", 993)
