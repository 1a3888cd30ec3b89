"""What people answer: SMS replies (1/ACK, 2/ESC), keys pressed on a call, delivery reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.errors import InvalidInput
from service.incidents import service as incidents
from service.incidents.models import OPEN_STATUSES
from service.incidents.tables import IncidentRow
from service.notify.tables import MessageEventRow, MessageRow, MessageState
from service.roster.models import Person
from service.runtime import Runtime

REPLY = re.compile(r"^\s*(1|ack|确认|2|esc|升级)\s*(?:#?\s*(\d+))?\s*$", re.IGNORECASE)
ACK_WORDS = {"1", "ack", "确认"}
HELP = {
    "zh": "回复1确认、回复2升级，可加事件号，如：1 #12",
    "en": "Reply 1 to acknowledge or 2 to escalate, optionally with the incident number: 1 #12",
}


@dataclass(frozen=True)
class Answer:
    text: str
    acted: bool


def person_by_number(runtime: Runtime, number: str) -> Person | None:
    wanted = re.sub(r"[^\d+]", "", number)
    for person in runtime.roster.people.values():
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
    runtime: Runtime,
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
            session, runtime, incident_id=incident.id, actor=person.id, now=now
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
    session: AsyncSession, runtime: Runtime, *, sender: str, body: str, now: datetime
) -> Answer:
    """Act on a reply only from a person notified about the incident; else help, no change."""
    person = person_by_number(runtime, sender)
    if person is None:
        return Answer(HELP["zh"] + " / This number is not registered with the duty office.", False)
    match = REPLY.match(body or "")
    if match is None:
        return Answer(HELP[person.language], False)
    incident = await _notified_incident(session, person, int(match[2]) if match[2] else None)
    if incident is None:
        text = (
            "没有找到通知过您的未结事件。"
            if person.language == "zh"
            else "No open incident you were notified about."
        )
        return Answer(f"{text} {HELP[person.language]}", False)
    return await act(
        session,
        runtime,
        person,
        incident,
        acknowledge=match[1].lower() in ACK_WORDS,
        via="sms",
        now=now,
    )


async def handle_call_digits(
    session: AsyncSession, runtime: Runtime, *, message_id: int, digits: str, now: datetime
) -> Answer:
    message = await session.get(MessageRow, message_id)
    if message is None or message.incident_id is None:
        return Answer("", False)
    person = runtime.roster.people.get(message.person_id)
    incident = await session.get(IncidentRow, message.incident_id)
    if person is None or incident is None or digits not in ("1", "2"):
        return Answer("", False)
    return await act(
        session, runtime, person, incident, acknowledge=digits == "1", via="call", now=now
    )


DELIVERED = {"delivered", "completed", "read"}
FAILED = {"undelivered", "failed", "busy", "no-answer", "canceled"}


async def record_status(
    session: AsyncSession,
    *,
    provider_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
    message_id: int | None = None,
) -> MessageRow | None:
    """Apply a provider's delivery report; returns the message if it has now failed.

    The report may come before the sender has recorded the provider's id (it is still
    `sending`): then `message_id`, from the callback's address, finds it, and the id is
    recorded here; the sender keeps the state this report set.
    """
    message: MessageRow | None = None
    if message_id is not None and provider_id:
        # By id first: the sender may be recording this very row; once it commits, the
        # row carries the provider's id (and the lookup by id waited for that).
        by_id = await session.scalar(
            select(MessageRow).where(MessageRow.id == message_id).with_for_update()
        )
        if by_id is not None and by_id.provider_id == provider_id:
            message = by_id
        elif by_id is not None and by_id.provider_id is None:
            if by_id.state == MessageState.sending:
                by_id.provider_id = provider_id
                message = by_id
    if message is None:
        message = await session.scalar(
            select(MessageRow).where(MessageRow.provider_id == provider_id).with_for_update()
        )
    if message is None:
        return None
    detail = f"provider status {status}" + (f" (error {error_code})" if error_code else "")
    if status in DELIVERED and message.state != MessageState.delivered:
        message.state, message.delivered_at, message.updated_at = MessageState.delivered, now, now
        session.add(
            MessageEventRow(
                message_id=message.id, at=now, state=MessageState.delivered, detail=detail
            )
        )
    elif status in FAILED and message.state not in (MessageState.failed, MessageState.delivered):
        message.state, message.error, message.updated_at = MessageState.failed, detail, now
        session.add(
            MessageEventRow(message_id=message.id, at=now, state=MessageState.failed, detail=detail)
        )
        return message
    return None
