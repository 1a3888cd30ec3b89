"""What people answer: SMS replies (1/ACK, 2/ESC) and keys pressed on a call, acted on
only for someone who was told about the incident."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.errors import InvalidInput
from service.flows import incidents
from service.flows.instructions import give_instruction
from service.flows.spotchecks import answer_spot_check
from service.incidents.models import OPEN_STATUSES
from service.incidents.tables import IncidentRow
from service.instructions.service import InstructionRequest
from service.notify.tables import MessageRow
from service.plans.loader import PlanSet
from service.roster.models import Person
from service.roster.roster import Roster
from service.store.base import MAX_ROW_ID
from service.texts.render import render_plain
from service.warnings.recipients import recipient_languages, set_opt_out

# Public warnings: 退订 / TD / STOP opt the number out at once; 订阅 / START back in.
OPT_OUT = re.compile(r"^\s*(退订|td|stop|unsubscribe|取消订阅)\s*$", re.IGNORECASE)
OPT_IN = re.compile(r"^\s*(订阅|start|subscribe|恢复订阅)\s*$", re.IGNORECASE)
# A duty officer asked to confirm being at the post (查岗) answers 1 (or 在岗).
SPOT_CHECK_REPLY = re.compile(r"^\s*(1|在岗|确认)\s*$")
REPLY = re.compile(r"^\s*(1|ack|确认|2|esc|升级)\s*(?:#?\s*(\d{1,10}))?\s*$", re.IGNORECASE)
ACK_WORDS = {"1", "ack", "确认"}
# A leader's instruction by reply: "批示：…" or "批示 #12 …" (the newest incident told of
# if no number); it becomes one assignment to the incident's unit, due in two hours.
INSTRUCTION = re.compile(
    r"^\s*(?:批示|instruct(?:ion)?)\s*(?:#\s*(\d{1,10}))?\s*[:：]?\s*(.+)$", re.I | re.S
)
INSTRUCTION_DUE = timedelta(hours=2)
HELP = {
    "zh": "回复1确认、回复2升级，可加事件号，如：1 #12",
    "en": "Reply 1 to acknowledge or 2 to escalate, optionally with the incident number: 1 #12",
}


@dataclass(frozen=True)
class Answer:
    text: str
    acted: bool


def person_by_number(roster: Roster, number: str) -> Person | None:
    wanted = re.sub(r"[^\d+]", "", number)
    for person in roster.people.values():
        if any(
            re.sub(r"[^\d+]", "", c.address) == wanted
            for c in person.contacts
            if c.channel is Channel.sms
        ):
            return person
    return None


async def _notified_incident(
    session: AsyncSession, person: Person, incident_id: int | None
) -> IncidentRow | None:
    """The open incident this person was notified about (the newest, if none is named)."""
    query = (
        select(IncidentRow)
        .join(MessageRow, MessageRow.incident_id == IncidentRow.id)
        .where(
            MessageRow.person_id == person.id,
            IncidentRow.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(IncidentRow.id.desc())
        .limit(1)
    )
    if incident_id is not None:
        query = query.where(IncidentRow.id == incident_id)
    return await session.scalar(query)


async def act(
    session: AsyncSession,
    roster: Roster,
    plans: PlanSet,
    person: Person,
    incident: IncidentRow,
    *,
    acknowledge: bool,
    via: str,
    now: datetime,
) -> Answer:
    zh = person.language == "zh"
    if acknowledge and incident.acknowledged_at is not None:
        who = incident.acknowledged_by
        return Answer(
            f"事件#{incident.id}已由{who}确认。"
            if zh
            else f"Incident #{incident.id} was already acknowledged by {who}.",
            False,
        )
    if acknowledge:
        await incidents.acknowledge(
            session, roster=roster, plans=plans, incident_id=incident.id, actor=person.id, now=now
        )
        return Answer(
            f"已确认事件#{incident.id}。" if zh else f"Incident #{incident.id} acknowledged.", True
        )
    try:
        await incidents.escalate_now(
            session, incident_id=incident.id, actor=f"{person.id} ({via})", now=now
        )
    except InvalidInput as exc:
        return Answer(f"未能升级：{exc.message}" if zh else f"Not escalated: {exc.message}", False)
    return Answer(
        f"事件#{incident.id}已升级。" if zh else f"Incident #{incident.id} escalated.", True
    )


async def handle_sms_reply(
    session: AsyncSession,
    roster: Roster,
    plans: PlanSet,
    *,
    sender: str,
    body: str,
    now: datetime,
) -> Answer:
    """Act on a reply only from a person notified about the incident; else help, no change.
    An opt-out (退订/STOP) or opt-in (订阅/START) from a recipient of public warnings is
    honoured at once, whoever else the number belongs to."""
    subscription = await _subscription(session, sender, body or "", now)
    if subscription is not None:
        return subscription
    person = person_by_number(roster, sender)
    if person is None:
        return Answer(HELP["zh"] + " / This number is not registered with the duty office.", False)
    if SPOT_CHECK_REPLY.match(body or ""):
        checked = await answer_spot_check(session, person.id, now, via="sms")
        if checked is not None:
            zh = person.language == "zh"
            return Answer(
                f"查岗#{checked.id}已确认，谢谢。"
                if zh
                else f"Duty check #{checked.id} confirmed.",
                True,
            )
    instructed = INSTRUCTION.match(body or "")
    if instructed is not None:
        return await instruction_by_reply(session, roster, person, instructed, now)
    match = REPLY.match(body or "")
    if match is None:
        return Answer(HELP[person.language], False)
    named = int(match[2]) if match[2] else None
    incident = (
        await _notified_incident(session, person, named)
        if named is None or named <= MAX_ROW_ID
        else None
    )
    if incident is None:
        text = (
            "没有找到通知过您的未结事件。"
            if person.language == "zh"
            else "No open incident you were notified about."
        )
        return Answer(f"{text} {HELP[person.language]}", False)
    return await act(
        session,
        roster,
        plans,
        person,
        incident,
        acknowledge=match[1].lower() in ACK_WORDS,
        via="sms",
        now=now,
    )


async def instruction_by_reply(
    session: AsyncSession,
    roster: Roster,
    person: Person,
    match: re.Match[str],
    now: datetime,
    *,
    via: str = "sms",
    incident_id: int | None = None,
) -> Answer:
    """A leader's `批示：…` as one assignment to the incident's unit, due in two hours: the
    incident the reply names, else `incident_id` (a mail's subject), else the newest
    incident the leader was told of."""
    zh = person.language == "zh"
    named = int(match[1]) if match[1] and int(match[1]) <= MAX_ROW_ID else incident_id
    incident = await _notified_incident(session, person, named)
    if incident is None:
        text = "没有找到通知过您的未结事件。" if zh else "No open incident you were notified about."
        return Answer(text, False)
    request = InstructionRequest(
        text=match[2].strip()[:4000],
        leader=person.id,
        assignments=[
            {
                "unit": incident.unit_id,
                "task": match[2].strip()[:2000],
                "deadline": now + INSTRUCTION_DUE,
            }
        ],
    )
    await give_instruction(session, roster, incident.id, request, actor=person.id, via=via, now=now)
    return Answer(
        f"批示已交办{roster.unit(incident.unit_id).name}（事件#{incident.id}），限2小时内办结。"
        if zh
        else f"Instruction assigned to {incident.unit_id} (incident #{incident.id}), due in 2h.",
        True,
    )


async def _subscription(
    session: AsyncSession, sender: str, body: str, now: datetime
) -> Answer | None:
    out = bool(OPT_OUT.match(body))
    if not out and not OPT_IN.match(body):
        return None
    touched = await set_opt_out(session, sender, out=out, now=now, via="sms reply")
    languages = await recipient_languages(session, sender)
    if not languages:
        return None  # not a recipient of public warnings: the duty office's help follows
    language = "en" if languages == {"en-US"} else "zh"
    template = "warning_opted_out" if out else "warning_opted_in"
    return Answer(render_plain(template, language, {"address": sender}), bool(touched))


async def handle_call_digits(
    session: AsyncSession,
    roster: Roster,
    plans: PlanSet,
    *,
    message_id: int,
    digits: str,
    now: datetime,
) -> Answer:
    message = await session.get(MessageRow, message_id)
    if message is None or message.incident_id is None:
        return Answer("", False)
    person = roster.people.get(message.person_id)
    incident = await session.get(IncidentRow, message.incident_id)
    if person is None or incident is None or digits not in ("1", "2"):
        return Answer("", False)
    return await act(
        session, roster, plans, person, incident, acknowledge=digits == "1", via="call", now=now
    )
