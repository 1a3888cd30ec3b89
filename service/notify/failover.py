"""When a message will not arrive: the person's next untried contact; when none is left,
the observer hears once that the person cannot be reached."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.observer import DeliveryObserver, FailOver
from service.notify.queue import QueuedMessage, queue_message
from service.notify.tables import MessageRow, MessageState
from service.roster.models import Contact, Person
from service.roster.roster import Roster
from service.store.job_runs import claim_run
from service.texts.render import email_subject

log = structlog.get_logger(__name__)


async def failed_over_already(session: AsyncSession, message_id: int) -> bool:
    """Whether the message's text already went on to another contact."""
    return (
        await session.scalar(
            select(MessageRow.id).where(MessageRow.failover_of == message_id).limit(1)
        )
    ) is not None


IN_PLAY_OR_ARRIVED = (
    MessageState.pending,
    MessageState.sending,
    MessageState.sent,
    MessageState.delivered,
    MessageState.bundled,
)


async def _reached_or_on_the_way(
    session: AsyncSession, failed: MessageRow, root: MessageRow
) -> int | None:
    """Another message to the same person about the same matter, since this one began,
    that arrived or may still arrive (its id), or None."""
    return await session.scalar(
        select(MessageRow.id)
        .where(
            *_same_matter(failed, root),
            MessageRow.id != failed.id,
            MessageRow.state.in_(IN_PLAY_OR_ARRIVED),
        )
        .limit(1)
    )


def _same_matter(failed: MessageRow, root: MessageRow) -> list[ColumnElement[bool]]:
    """Messages to the same person about the same incident (or none) since the first of
    this message's fail-over chain was queued."""
    return [
        MessageRow.person_id == failed.person_id,
        MessageRow.incident_id.is_(None)
        if failed.incident_id is None
        else MessageRow.incident_id == failed.incident_id,
        MessageRow.created_at >= root.created_at,
    ]


def next_contact(person: Person, tried: set[tuple[str, str]]) -> Contact | None:
    """The person's first contact, in the order the roster lists them, not yet tried for
    this message (by channel and address)."""
    for contact in person.contacts:
        if (contact.channel.value, contact.address) not in tried:
            return contact
    return None


async def fail_over(
    session: AsyncSession,
    roster: Roster,
    failed: MessageRow,
    now: datetime,
    observer: DeliveryObserver,
) -> QueuedMessage | None:
    """Queue the same text to the person's next untried contact (unless this message already
    failed over); when none is left, report the person unreachable, once per person and
    incident, but only if no other message reached them or is still on its way: a person
    paged by SMS and mail at once, whose SMS arrived, is not unreachable because the mail
    server is down."""
    person = roster.people.get(failed.person_id)
    if person is None:
        return None
    root = failed
    while root.failover_of is not None:
        earlier = await session.get(MessageRow, root.failover_of)
        if earlier is None:
            break
        root = earlier
    if await failed_over_already(session, failed.id):
        contact = None  # its next contact was already queued; that one decides what follows
    else:
        tried = {
            (channel, address)
            for channel, address in await session.execute(
                select(MessageRow.channel, MessageRow.address).where(*_same_matter(failed, root))
            )
        }
        contact = next_contact(person, tried)
    if contact is not None:
        message = queue_message(
            session,
            person=person,
            channel=contact.channel,
            address=contact.address,
            body=failed.body,
            # A digest (about no one incident) keeps its subject on any channel: it marks
            # the longer SMS limit, so failing over does not cut incidents from it.
            subject=failed.subject or email_subject(failed.body)
            if contact.channel is Channel.email or (failed.incident_id is None and failed.subject)
            else "",
            now=now,
            incident_id=failed.incident_id,
            step_id=failed.escalation_step_id,
            failover_of=failed.id,
        )
        await observer.failed_over(
            session,
            FailOver(
                failed_message_id=failed.id,
                person_id=person.id,
                person_name=person.name,
                failed_channel=failed.channel,
                next_channel=contact.channel.value,
                next_address=contact.address,
                incident_id=failed.incident_id,
            ),
            now,
        )
        return message
    reached = await _reached_or_on_the_way(session, failed, root)
    if reached is not None:
        log.info(
            "person.not_unreachable",
            person=person.id,
            incident=failed.incident_id,
            by=f"message {reached}",
        )
        return None
    key = f"{failed.incident_id or 'none'}:{failed.person_id}"
    if failed.incident_id is None:
        key += f":{now.date().isoformat()}"
    if await claim_run(session, job="unreachable", key=key, now=now):
        log.warning("person.unreachable", person=person.id, incident=failed.incident_id)
        await observer.unreachable(
            session, person_id=person.id, incident_id=failed.incident_id, now=now
        )
    return None
