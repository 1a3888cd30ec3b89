"""Queue outgoing messages: rows the outbox will deliver, written in the caller's
transaction with the event that caused them.

A queued message is gathered in the session and written as a plain row, all of the
transaction's at once, before its next statement and at the latest when it commits: as ORM
objects an incident's half-dozen messages cost about three times the CPU (each object's
attribute events, unit of work and one INSERT each on SQLite, which cannot return the ids
of a multi-row INSERT in order). So every statement of the transaction, reads of messages
included, sees them. Inside a savepoint, which may roll back on its own, they are ORM
objects that go with it, and what was gathered before it waits for the outer transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from service.catalog import Channel
from service.notify.events import add_events, event_values
from service.notify.tables import MessageRow, MessageState, state_is
from service.roster.models import Person
from service.store.bulk import among, insert_statement
from service.texts.render import email_subject, render_plain
from service.texts.words import drill_marked

# Ids of the drill incidents a session has seen (`service.incidents.tables` keeps it):
# every message about one of them is marked as a drill, whoever queues it.
DRILL_INCIDENTS = "drill_incidents"
MESSAGES = MessageRow.__table__
_PENDING = "dutyd.messages.pending"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """Who a message queued in this transaction goes to, and how."""

    person_id: str
    channel: Channel
    address: str


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
    failover_of: int | None = None,
) -> QueuedMessage:
    if incident_id is not None and incident_id in session.info.get(DRILL_INCIDENTS, ()):
        body = drill_marked(body, person.language)
        subject = drill_marked(subject, person.language)
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "escalation_step_id": step_id,
        "person_id": person.id,
        "channel": channel.value,
        "address": address,
        "subject": subject,
        "body": body,
        "state": MessageState.pending,
        "due_at": now,
        "created_at": now,
        "updated_at": now,
        "failover_of": failover_of,
    }
    if session.in_nested_transaction():
        session.add(MessageRow(**values))
    else:
        session.info.setdefault(_PENDING, []).append(values)
    return QueuedMessage(person.id, channel, address)


def _write_pending(session: Session) -> None:
    if _PENDING in session.info and not session.in_nested_transaction():
        pending = session.info.pop(_PENDING)
        session.execute(*insert_statement(session, MESSAGES, pending))


@event.listens_for(Session, "do_orm_execute")
def _write_before_statement(state: ORMExecuteState) -> None:
    _write_pending(state.session)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    _write_pending(session)  # also called as a savepoint is released: not written then


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: its messages are not written
        session.info.pop(_PENDING, None)


def queue_to_person(
    session: AsyncSession,
    person: Person,
    body: str,
    now: datetime,
    *,
    channels: tuple[Channel, ...] = (Channel.sms, Channel.email),
    incident_id: int | None = None,
    first_only: bool = True,
) -> list[QueuedMessage]:
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
