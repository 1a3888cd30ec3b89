"""Mail-in: a message sent by a real SMTP client (aiosmtplib) to the built-in listener is
stored as a draft before the listener answers 250, with its sender, text and attachment;
an officer confirms it as an incident (attachments kept) or dismisses it."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select

from service.auth.tokens import Role
from service.incidents.tables import IncidentRow
from service.intake.mailbox import MailHandler, MailListener
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.fakes.smtp import free_port


def mail(subject: str, *, attachment: bytes | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "青山县水利局 <duty@water.qingshan.example.gov.cn>"
    message["To"] = "duty@linjiang.example.gov.cn"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@water.qingshan.example.gov.cn>"
    message.set_content("青山水库水位已超汛限0.3米，正在加大泄洪，请知悉。")
    if attachment is not None:
        message.add_attachment(
            attachment, maintype="application", subtype="pdf", filename="水情报告.pdf"
        )
    return message


async def test_mail_becomes_a_draft_and_then_an_incident(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    port = free_port()
    handler = MailHandler(
        "duty_mailbox", dutyd.intake_writer.store, dutyd.clock, dutyd.settings.data_dir / "att"
    )
    listener = MailListener(handler, "127.0.0.1", port)
    await listener.start()
    try:
        report = b"%PDF-1.4 water level report"
        await aiosmtplib.send(
            mail("青山水库超汛限", attachment=report), hostname="127.0.0.1", port=port
        )
        # The server resends a message it is not sure was kept: stored once.
        await aiosmtplib.send(
            mail("青山水库超汛限", attachment=report), hostname="127.0.0.1", port=port
        )
        await aiosmtplib.send(mail("会议通知"), hostname="127.0.0.1", port=port)
    finally:
        await listener.stop()

    desk = await api_client(dutyd, Role.duty_officer, "desk")
    drafts = (await desk.get("/api/v1/intake/drafts")).json()
    assert [d["subject"] for d in drafts] == ["青山水库超汛限", "会议通知"]
    first = drafts[0]
    assert "duty@water.qingshan.example.gov.cn" in first["sender"]
    assert "超汛限0.3米" in first["text"]
    assert first["attachments"][0]["filename"] == "水情报告.pdf"
    kept = dutyd.settings.data_dir / "att" / first["attachments"][0]["sha256"]
    assert kept.read_bytes() == report
    await dutyd.engine.run_due()  # drafts wait for a person: the engine leaves them
    async with dutyd.sessions() as session:
        assert await session.scalar(select(IncidentRow)) is None

    confirmed = await desk.post(
        f"/api/v1/intake/drafts/{first['id']}/confirm",
        json={
            "category": "natural_disaster",
            "event_type": "flood",
            "level": "III",
            "unit": "qingshan",
            "title": "青山水库水位超汛限",
            "description": first["text"],
            "intake": {"reporter_unit": "青山县水利局", "received_via": "system"},
        },
    )
    assert confirmed.status_code == 201, confirmed.text
    async with dutyd.sessions() as session:
        incident = await session.get(IncidentRow, confirmed.json()["incident_id"])
    assert incident is not None and incident.reporter == "desk"
    assert any("水情报告.pdf" in a for a in incident.attachments)
    again = await desk.post(f"/api/v1/intake/drafts/{first['id']}/confirm", json={})
    assert again.status_code in (409, 422)
    dismissed = await desk.post(
        f"/api/v1/intake/drafts/{drafts[1]['id']}/dismiss", json={"reason": "会议通知，非突发事件"}
    )
    assert dismissed.status_code == 204
    assert (await desk.get("/api/v1/intake/drafts")).json() == []
    viewer = await api_client(dutyd, Role.viewer, "viewer")
    refused = await viewer.post(
        f"/api/v1/intake/drafts/{first['id']}/dismiss", json={"reason": "x"}
    )
    assert refused.status_code == 403
    await desk.aclose()
    await viewer.aclose()
