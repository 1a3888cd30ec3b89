"""Queue outgoing messages: rows the outbox will deliver, written in the caller's
transaction with the event that caused them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.events import add_events, event_values
from service.notify.tables import MessageRow, MessageState, state_is
from service.roster.models import Person
from service.store.bulk import among
from service.texts.render import email_subject, render_plain
from service.texts.words import drill_marked

# Ids of the drill incidents a session has seen (`service.incidents.tables` keeps it):
# every message about one of them is marked as a drill, whoever queues it.
DRILL_INCIDENTS = "drill_incidents"


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
    if incident_id is not None and incident_id in session.info.get(DRILL_INCIDENTS, ()):
        body = drill_marked(body, person.language)
        subject = drill_marked(subject, person.language)
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
        queued.append(
            queue_message(
                session,
                person=person,
                channel=channel,
                address=addresses[0],
                body=body,
                now=now,
                subject=email_subject(body) if channel is Channel.email else "",
                incident_id=incident_id,
            )
        )
        if first_only:
            break
    return queued


def tell_people(
    session: AsyncSession,
    people: Iterable[Person],
    template: str,
    values: dict[str, object],
    now: datetime,
    *,
    incident_id: int | None = None,
) -> int:
    """A short message from `template` to each person, in their language, by their first
    channel; returns how many people it was queued for."""
    told = 0
    for person in people:
        body = render_plain(template, person.language, values)
        if queue_to_person(session, person, body, now, incident_id=incident_id):
            told += 1
    return told


async def messages_for_incident(session: AsyncSession, incident_id: int) -> list[MessageRow]:
    """Every message about the incident, in the order queued."""
    rows = await session.scalars(
        select(MessageRow).where(MessageRow.incident_id == incident_id).order_by(MessageRow.id)
    )
    return list(rows)


async def withdraw_pending(
    session: AsyncSession, *, incident_id: int, reason: str, now: datetime
) -> int:
    """Messages about the incident still waiting to go (not those being sent) are not sent:
    `withdrawn`, each with an event saying why. How many."""
    ids = list(
        await session.scalars(
            select(MessageRow.id).where(
                MessageRow.incident_id == incident_id, state_is(MessageState.pending)
            )
        )
    )
    if not ids:
        return 0
    await session.execute(
        update(MessageRow)
        .where(among(session, MessageRow.id, ids))
        .values(state=MessageState.withdrawn, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await add_events(session, [event_values(i, MessageState.withdrawn, now, reason) for i in ids])
    return len(ids)
