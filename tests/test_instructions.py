"""Leaders' instructions: assignments told at once, reminded, late ones supervised (督办)
to the assigning leader and the unit's leader on shift, closed only by an accepted answer,
sent back otherwise; open and overdue lists and the closure rate."""

from __future__ import annotations

from datetime import timedelta

from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import Daemon

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


async def test_an_instruction_carried_out_and_supervised(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    leader = await api_client(dutyd, Role.leader, "wang_fang")
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await dutyd.engine.run_due()
    assert daemon.transport is not None
    daemon.transport.sent.clear()
    # The leader gives the instruction a few minutes after the pages went out.
    dutyd.clock.advance(timedelta(minutes=5))
    now = dutyd.clock.now()
    body = {
        "text": "立即组织沿河群众转移，确保人员安全",
        "assignments": [
            {
                "unit": "qingshan",
                "task": "转移沿河群众并报人数",
                "deadline": (now + timedelta(hours=2)).isoformat(),
            },
            {
                "unit": "hexi",
                "task": "做好下游防范",
                "deadline": (now + timedelta(hours=1)).isoformat(),
            },
        ],
    }
    assert (
        await desk.post(f"/api/v1/incidents/{incident['id']}/instructions", json=body)
    ).status_code == 403
    given = await leader.post(f"/api/v1/incidents/{incident['id']}/instructions", json=body)
    assert given.status_code == 201, given.text
    qingshan, _hexi = given.json()
    await dutyd.engine.run_due()
    told = [m.body for m in daemon.transport.sent]
    assert sum("【交办】" in b for b in told) >= 2 and any("转移沿河群众" in b for b in told)

    # Hexi answers nothing: reminded before, supervised after its deadline.
    daemon.transport.sent.clear()
    dutyd.clock.advance(timedelta(minutes=40))
    await dutyd.engine.run_due()
    assert any("【督办提醒】" in m.body for m in daemon.transport.sent)
    dutyd.clock.advance(timedelta(minutes=30))
    await dutyd.engine.run_due()
    late = [m for m in daemon.transport.sent if "【督办】" in m.body]
    assert late and any(m.person_id == "wang_fang" for m in late)
    listed = (await desk.get("/api/v1/assignments", params={"unit": "hexi"})).json()
    assert listed[0]["overdue"] and listed[0]["late"]

    # Qingshan answers; the leader sends it back, then accepts the second answer.
    path = f"/api/v1/assignments/{qingshan['id']}"
    assert (await desk.post(f"{path}/answer", json={"answer": "已转移230人"})).json()[
        "state"
    ] == "answered"
    assert (await desk.post(f"{path}/decide", json={"accept": True})).status_code == 403
    back = await leader.post(f"{path}/decide", json={"accept": False, "comment": "请补报安置点"})
    assert back.json()["state"] == "open" and back.json()["sent_back"] == 1
    await desk.post(f"{path}/answer", json={"answer": "已转移230人，安置于镇中学"})
    closed = await leader.post(f"{path}/decide", json={"accept": True})
    assert closed.json()["state"] == "closed" and not closed.json()["late"]
    assert (await leader.post(f"{path}/decide", json={"accept": True})).status_code == 409

    rates = (
        await desk.get(
            "/api/v1/assignments/closure",
            params={
                "from": (now - timedelta(days=1)).isoformat(),
                "to": (now + timedelta(days=1)).isoformat(),
            },
        )
    ).json()
    by_unit = {r["unit"]: r for r in rates}
    assert by_unit["qingshan"]["rate"] == 1.0 and by_unit["hexi"]["overdue_open"] == 1
    timeline = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()["timeline"]
    kinds = [e["kind"] for e in timeline]
    for kind in (
        "instruction",
        "assignment_late",
        "assignment_answered",
        "assignment_sent_back",
        "assignment_closed",
    ):
        assert kind in kinds, kind
    await desk.aclose()
    await leader.aclose()


async def test_an_instruction_by_replying_to_the_escalation_sms(daemon: Daemon) -> None:
    from service.flows.replies import handle_sms_reply

    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await dutyd.engine.run_due()
    assert daemon.transport is not None
    told = next(m for m in daemon.transport.sent if m.channel == "sms")
    async with dutyd.sessions.begin() as session:
        answer = await handle_sms_reply(
            session,
            dutyd.runtime.roster,
            dutyd.runtime.plans,
            sender=told.address,
            body=f"批示 #{incident['id']}：请青山县立即组织转移并每小时报告",
            now=dutyd.clock.now(),
        )
    assert answer.acted and "批示已交办" in answer.text
    listed = (await desk.get("/api/v1/assignments", params={"unit": "qingshan"})).json()
    assert listed[0]["task"] == "请青山县立即组织转移并每小时报告"
    await desk.aclose()


async def test_an_instruction_by_replying_to_the_escalation_mail(daemon: Daemon) -> None:
    from email.message import EmailMessage

    import aiosmtplib

    from service.intake.mailbox import MailHandler, MailListener
    from service.intake.rules import Source
    from tests.fakes.smtp import free_port

    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    other = (await desk.post("/api/v1/incidents", json={**FLOOD, "unit": "hexi"})).json()

    def reply(sender: str, subject: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"] = sender, "duty@linjiang.example.gov.cn"
        message["Subject"], message["Message-ID"] = subject, f"<{abs(hash(subject + sender))}@x>"
        message.set_content(text)
        return message

    await dutyd.engine.run_due()
    assert daemon.transport is not None
    # The county's leader on shift, told of the incident by mail, answers that mail.
    told = {m.person_id for m in daemon.transport.sent if m.channel == "email"}
    (leader_id,) = told & {"zhou_jun", "wu_hua"}
    person = dutyd.runtime.roster.people[leader_id]
    address = next(c.address for c in person.contacts if c.channel.value == "email")
    leader = f"{person.name} <{address}>"
    subject = f"Re: 【II级自然灾害】青山河水位超警戒（事件#{incident['id']}）"
    quoted = "\n\n在 2026年7月15日 写道：\n> 青山河水位超警戒，请指示。\n> 批示：不是这个\n"
    port = free_port()
    mailbox = Source(kind="mail", listen=f"127.0.0.1:{port}")
    rules = dutyd.intake_rules
    dutyd.intake_rules = rules.model_copy(update={"sources": {**rules.sources, "mail": mailbox}})
    handler = MailHandler("mail", dutyd.intake_writer.store, dutyd.clock, dutyd.settings.data_dir)
    listener = MailListener(handler, "127.0.0.1", port)
    await listener.start()
    try:
        for message in (
            reply(leader, subject, "批示：立即组织沿河群众转移，确保安全" + quoted),
            reply("某人 <someone@example.org>", subject, "批示：这不是领导的邮件"),
            reply(leader, "Re: 会议", "收到，谢谢。" + quoted),
        ):
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    finally:
        await listener.stop()
    await dutyd.engine.run_due()

    given = (await desk.get("/api/v1/assignments", params={"unit": "qingshan"})).json()
    (assignment,) = [a for a in given if a["incident_id"] == incident["id"]]
    assert assignment["task"] == "立即组织沿河群众转移，确保安全"  # the quoted part left out
    assert not [a for a in given if a["incident_id"] == other["id"]]
    drafts = (await desk.get("/api/v1/intake/drafts")).json()
    assert sorted(d["subject"] for d in drafts) == sorted([subject, "Re: 会议"])
    assert all("不是领导" in d["text"] or "收到" in d["text"] for d in drafts)
    await desk.aclose()
