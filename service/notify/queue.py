"""Queue one outgoing message: a row the outbox will deliver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.tables import MessageRow, MessageState
from service.roster.models import Person


def queue_message(
    session: AsyncSession,
    *,
    person: Person,
    channel: Channel,
    address: str,
    body: str,
    now: datetime,
    subject: str = "",
    incident_id: int | None = None,
    step_id: int | None = None,
) -> MessageRow:
    message = MessageRow(
        incident_id=incident_id,
        escalation_step_id=step_id,
        person_id=person.id,
        channel=channel.value,
        address=address,
        subject=subject,
        body=body,
        state=MessageState.pending,
        due_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    return message


def queue_to_person(
    session: AsyncSession,
    person: Person,
    body: str,
    now: datetime,
    *,
    channels: tuple[Channel, ...] = (Channel.sms, Channel.email),
    incident_id: int | None = None,
    first_only: bool = True,
) -> list[MessageRow]:
    """Send `body` by the person's channels in order (only the first they have, by default)."""
    queued = []
    for channel in channels:
        lookup = Channel.sms if channel is Channel.voice else channel
        addresses = person.addresses(lookup)
        if not addresses:
            continue
        subject = body.splitlines()[0][:80] if channel is Channel.email else ""
        queued.append(
            queue_message(
                session,
                person=person,
                channel=channel,
                address=addresses[0],
                body=body,
                now=now,
                subject=subject,
                incident_id=incident_id,
            )
        )
        if first_only:
            break
    return queued
