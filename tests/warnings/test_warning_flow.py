"""A warning from draft to lift against a started daemon, on SQLite and PostgreSQL: the
workflow's rules, the fan-out to exactly the people in the area, updates and the lift
reaching exactly those told, the gate stopping what the lift overtakes."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from service.catalog import Level
from service.errors import Conflict
from service.flows import warnings as flow
from service.notify.tables import MessageRow, MessageState
from service.warnings.cap import validate_cap
from service.warnings.cap_parse import parse_cap
from service.warnings.models import MsgType, Stage
from service.warnings.recipients import set_opt_out
from service.warnings.workflow import WorkflowRefused
from tests.conftest import Daemon
from tests.warnings.warning_helpers import (
    CITY_APPROVER,
    COUNTY_APPROVER,
    COUNTY_HEAD,
    DRAFTER,
    LEADER,
    desk,
    hours,
    load_recipients,
    rainstorm,
    recipients_csv,
)


async def sent_by_recipient(daemon: Daemon) -> Counter[str]:
    assert daemon.transport is not None
    return Counter(m.address for m in daemon.transport.sent)


async def deliver_all(daemon: Daemon) -> None:
    """Run the engine until the paced SMS have all come due (the clock moved a minute)."""
    await daemon.dutyd.engine.run_due()
    daemon.dutyd.clock.advance(hours(1) / 60)
    await daemon.dutyd.engine.run_due()


async def publish_orange(daemon: Daemon, codes: list[str]) -> int:
    dutyd = daemon.dutyd
    content = rainstorm(Level.II, codes, dutyd.clock.now() + hours(12))
    async with dutyd.sessions.begin() as session:
        row = await flow.draft_warning(
            session, desk(dutyd), content, unit_id="qingshan", actor=DRAFTER
        )
        warning_id = row.id
    async with dutyd.sessions.begin() as session:
        await flow.submit_warning(session, desk(dutyd), warning_id, DRAFTER)
    for reviewer in (COUNTY_APPROVER, CITY_APPROVER):
        async with dutyd.sessions.begin() as session:
            await flow.review_warning(
                session, desk(dutyd), warning_id, reviewer, approve=True, comment="同意"
            )
    async with dutyd.sessions.begin() as session:
        await flow.sign_warning(session, desk(dutyd), warning_id, COUNTY_HEAD)
    return warning_id


async def test_draft_review_sign_publish_update_lift(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    await load_recipients(dutyd, recipients_csv(qingshan=6, hexi=4, elsewhere=3))
    content = rainstorm(Level.II, ["339901", "339902"], dutyd.clock.now() + hours(12))
    async with dutyd.sessions.begin() as session:
        row = await flow.draft_warning(
            session, desk(dutyd), content, unit_id="qingshan", actor=DRAFTER
        )
        warning_id = row.id
    async with dutyd.sessions.begin() as session:
        await flow.submit_warning(session, desk(dutyd), warning_id, DRAFTER)
    # The drafter can never review or sign their own warning; one county review is not
    # enough for orange: the city must review too.
    async with dutyd.sessions.begin() as session:
        with pytest.raises(WorkflowRefused, match="drafted this warning"):
            await flow.review_warning(
                session, desk(dutyd), warning_id, DRAFTER, approve=True, comment=""
            )
    async with dutyd.sessions.begin() as session:
        row = await flow.review_warning(
            session, desk(dutyd), warning_id, COUNTY_APPROVER, approve=True, comment="同意"
        )
        assert row.stage == Stage.in_review
    async with dutyd.sessions.begin() as session:
        with pytest.raises(Conflict, match="not awaiting sign-off"):
            await flow.sign_warning(session, desk(dutyd), warning_id, COUNTY_HEAD)
    async with dutyd.sessions.begin() as session:
        row = await flow.review_warning(
            session, desk(dutyd), warning_id, CITY_APPROVER, approve=True, comment="市级审核同意"
        )
        assert row.stage == Stage.awaiting_signoff
    async with dutyd.sessions.begin() as session:
        with pytest.raises(WorkflowRefused, match="may never sign"):
            await flow.sign_warning(session, desk(dutyd), warning_id, DRAFTER)
    async with dutyd.sessions.begin() as session:
        row = await flow.sign_warning(session, desk(dutyd), warning_id, COUNTY_HEAD)
        assert row.stage == Stage.published and row.identifier
        assert row.identifier.startswith("339901YJ_")
        cap = row.cap_xml
    assert cap is not None
    validate_cap(cap.encode())
    alert = parse_cap(cap.encode())
    assert alert.msg_type is MsgType.Alert and [i.language for i in alert.infos] == [
        "zh-CN",
        "en-US",
    ]
    assert ("colour", "orange") in alert.infos[0].parameters
    short = dict(alert.infos[0].parameters)
    assert short["CMAMtext"].startswith("【预警】") and len(short["CMAMtext"]) <= 90
    assert len(dict(alert.infos[1].parameters)["CMAMlongtext"]) <= 360

    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    assert len(told) == 10 and set(told.values()) == {1}  # qingshan's 6 and hexi's 4
    assert not any(a.startswith("+86139200") for a in told)  # elsewhere: not in the area
    bodies = [m.body for m in daemon.transport.sent]  # type: ignore[union-attr]
    assert all(b.startswith("【预警】") and "暴雨橙色预警" in b for b in bodies)

    # An update raises it to red and adds the third county: those told before, and the
    # three newly in the area.
    async with dutyd.sessions.begin() as session:
        update = await flow.draft_update(
            session,
            desk(dutyd),
            warning_id,
            rainstorm(Level.I, ["339901", "339902", "339903"], dutyd.clock.now() + hours(12)),
            DRAFTER,
        )
        update_id = update.id
    async with dutyd.sessions.begin() as session:
        await flow.publish_at_once(
            session, desk(dutyd), update_id, COUNTY_HEAD, reason="雨势骤增，绿色通道"
        )
    daemon.transport.sent.clear()  # type: ignore[union-attr]
    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    emails = [m for m in daemon.transport.sent if m.channel == "email"]  # type: ignore[union-attr]
    assert len([a for a in told if a.startswith("+86")]) == 13 and len(emails) == 3
    async with dutyd.sessions() as session:
        original = await flow.service.get_warning(session, warning_id)
        raised = await flow.service.get_warning(session, update_id)
        assert original.stage == Stage.superseded and raised.emergency
        update_cap = parse_cap((raised.cap_xml or "").encode())
    assert update_cap.msg_type is MsgType.Update
    assert [r.identifier for r in update_cap.references] == [original.identifier]

    # One of them opts out; the lift reaches everyone else told, and nobody else.
    async with dutyd.sessions.begin() as session:
        await set_opt_out(session, "+8613910000000", out=True, now=dutyd.clock.now(), via="test")
    await load_recipients(
        dutyd,
        recipients_csv(qingshan=6, hexi=4, elsewhere=3)
        + "late,新人,public,zh-CN,339901,,,,,+8613999999999,,\n",
    )
    daemon.transport.sent.clear()  # type: ignore[union-attr]
    async with dutyd.sessions.begin() as session:
        with pytest.raises(WorkflowRefused):
            await flow.lift_warning(session, desk(dutyd), warning_id, DRAFTER, reason="x")
    async with dutyd.sessions.begin() as session:
        lift = await flow.lift_warning(session, desk(dutyd), warning_id, LEADER, reason="雨停")
        lift_id = lift.id
    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    assert "+8613999999999" not in told and "+8613910000000" not in told
    assert len([a for a in told if a.startswith("+86")]) == 12
    lifts = [m.body for m in daemon.transport.sent if m.channel == "sms"]  # type: ignore[union-attr]
    assert all("解除" in b or "LIFT" in b.upper() for b in lifts), lifts
    assert not any("低洼地区人员转移" in b for b in lifts)  # nothing left to do
    async with dutyd.sessions() as session:
        lifted = await flow.service.get_warning(session, lift_id)
        raised = await flow.service.get_warning(session, update_id)
    assert raised.stage == Stage.cancelled and lifted.msg_type == MsgType.Cancel.value
    cancel = parse_cap((lifted.cap_xml or "").encode())
    assert cancel.msg_type is MsgType.Cancel and len(cancel.references) == 2
    async with dutyd.sessions.begin() as session:
        with pytest.raises(Conflict, match="not in force"):
            await flow.lift_warning(session, desk(dutyd), warning_id, LEADER, reason="again")


async def test_a_lift_stops_what_is_still_waiting(daemon: Daemon) -> None:
    """With the provider paced to 2 SMS/s, most of the warning still waits when it is
    lifted: none of it goes after, what waited is withdrawn, the lift goes to those told."""
    dutyd = daemon.dutyd
    dutyd.warning_rules = dutyd.warning_rules.model_copy(
        update={"sms": dutyd.warning_rules.sms.model_copy(update={"per_second": 2})}
    )
    await load_recipients(dutyd, recipients_csv(qingshan=40, hexi=0))
    warning_id = await publish_orange(daemon, ["339901"])
    await dutyd.engine.run_due()
    first = len(daemon.transport.sent)  # type: ignore[union-attr]
    assert 1 <= first <= 2  # the rest is due over the next 20 s
    dutyd.clock.advance(hours(1) / 1200)  # three seconds: a few more
    await dutyd.engine.run_due()
    before_lift = len(daemon.transport.sent)  # type: ignore[union-attr]
    assert before_lift < 40
    async with dutyd.sessions.begin() as session:
        await flow.lift_warning(session, desk(dutyd), warning_id, LEADER, reason="误报")
    await deliver_all(daemon)
    dutyd.clock.advance(hours(1))  # long past when the rest of the original was due
    await deliver_all(daemon)
    sent = daemon.transport.sent  # type: ignore[union-attr]
    originals = [m for m in sent if m.broadcast_id == warning_id]
    assert len(originals) == before_lift
    lifts = [m for m in sent if m.broadcast_id != warning_id]
    assert {m.address for m in lifts} == {m.address for m in originals}
    async with dutyd.sessions() as session:
        states = dict(
            (
                await session.execute(
                    select(MessageRow.state, func.count())
                    .where(MessageRow.broadcast_id == warning_id)
                    .group_by(MessageRow.state)
                )
            ).all()
        )
    assert states[MessageState.withdrawn] == 40 - before_lift


async def test_a_crash_mid_fan_out_loses_and_repeats_nothing(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fan-out dies in its third chunk (its transaction rolls back); the next pass
    resumes after the last committed chunk: everyone is told exactly once."""
    from service.flows import warning_fanout
    from service.warnings import fanout

    dutyd = daemon.dutyd
    dutyd.warning_rules = dutyd.warning_rules.model_copy(
        update={"sms": dutyd.warning_rules.sms.model_copy(update={"per_second": 10_000})}
    )
    await load_recipients(dutyd, recipients_csv(qingshan=25, hexi=0))
    monkeypatch.setattr(warning_fanout, "FANOUT_CHUNK", 4)
    real = fanout.queue_broadcast
    calls = 0

    async def dies_in_the_third(*args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        queued = await real(*args, **kwargs)  # type: ignore[arg-type]
        if calls == 3:
            raise RuntimeError("the process dies mid-chunk")
        return queued

    monkeypatch.setattr(fanout, "queue_broadcast", dies_in_the_third)
    warning_id = await publish_orange(daemon, ["339901"])
    with pytest.raises(RuntimeError):
        await dutyd.engine.run_due()
    async with dutyd.sessions() as session:
        queued = await session.scalar(
            select(func.count()).where(MessageRow.broadcast_id == warning_id)
        )
    assert queued == 8  # two chunks of four committed, the third rolled back
    await deliver_all(daemon)
    told = await sent_by_recipient(daemon)
    assert len(told) == 25 and set(told.values()) == {1}


async def test_the_next_chunk_waits_for_the_first_to_go_out(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warning's first chunk is handed over before its next chunk is made (for up to
    FIRST_HOLD), so that no chunk holds the warning's row while its first SMS wait."""
    from service.flows import warning_fanout

    dutyd = daemon.dutyd
    await load_recipients(dutyd, recipients_csv(qingshan=12, hexi=0))
    monkeypatch.setattr(warning_fanout, "FIRST_CHUNK", 3)
    monkeypatch.setattr(warning_fanout, "FANOUT_CHUNK", 4)
    warning_id = await publish_orange(daemon, ["339901"])
    texts = warning_fanout.WarningTexts()

    async def queued() -> int:
        async with dutyd.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(MessageRow.broadcast_id == warning_id)
                )
                or 0
            )

    async def fan_out() -> warning_fanout.FanoutPass:
        return await warning_fanout.run_warning_pass(
            dutyd.sessions, dutyd.warning_rules, texts, dutyd.clock.now(), chunks=4
        )

    assert (await fan_out()).more and await queued() == 3
    # Its three SMS not handed over yet: no next chunk, and this process looks again soon.
    held = await fan_out()
    assert held.more and await queued() == 3
    await deliver_all(daemon)  # the outbox hands them over; the engine goes on
    assert await queued() == 12
    # A first chunk that cannot go out holds the rest no longer than FIRST_HOLD.
    warning_id = await publish_orange(daemon, ["339901"])
    assert (await fan_out()).more and await queued() == 3
    await fan_out()
    assert await queued() == 3
    dutyd.clock.advance(warning_fanout.FIRST_HOLD)
    await fan_out()
    assert await queued() > 3
