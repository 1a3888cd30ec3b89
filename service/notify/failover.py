"""When a message will not arrive: the person's next contact method, then the duty office."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.incidents.timeline import add_entry
from service.notify.queue import queue_message, queue_to_person
from service.notify.render import render_plain
from service.notify.tables import MessageRow
from service.roster.jobs import claim_run
from service.roster.roster import Roster

log = structlog.get_logger(__name__)


async def fail_over(
    session: AsyncSession, roster: Roster, failed: MessageRow, now: datetime
) -> MessageRow | None:
    """Queue the same text to the person's next untried contact; if none, tell the duty office."""
    person = roster.people.get(failed.person_id)
    if person is None:
        return None
    root = failed
    while root.failover_of is not None:
        earlier = await session.get(MessageRow, root.failover_of)
        if earlier is None:
            break
        root = earlier
    tried = {
        (channel, address)
        for channel, address in (
            await session.execute(
                select(MessageRow.channel, MessageRow.address).where(
                    MessageRow.person_id == failed.person_id,
                    MessageRow.incident_id.is_(failed.incident_id)
                    if failed.incident_id is None
                    else MessageRow.incident_id == failed.incident_id,
                    MessageRow.created_at >= root.created_at,
                )
            )
        ).all()
    }
    for contact in person.contacts:
        if (contact.channel.value, contact.address) in tried:
            continue
        subject = failed.subject or failed.body.splitlines()[0][:80]
        message = queue_message(
            session,
            person=person,
            channel=contact.channel,
            address=contact.address,
            body=failed.body,
            # A digest (about no one incident) keeps its subject on any channel: it marks
            # the longer SMS limit, so failing over does not cut incidents from it.
            subject=subject
            if contact.channel is Channel.email or (failed.incident_id is None and failed.subject)
            else "",
            now=now,
            incident_id=failed.incident_id,
            step_id=failed.escalation_step_id,
        )
        message.failover_of = failed.id
        if failed.incident_id is not None:
            add_entry(
                session,
                incident_id=failed.incident_id,
                at=now,
                kind="failover",
                summary=f"{failed.channel} to {person.name} failed; trying "
                f"{contact.channel.value} {contact.address}",
            )
        return message
    await _tell_unreachable_once(session, roster, failed, now)
    return None


async def _tell_unreachable_once(
    session: AsyncSession, roster: Roster, failed: MessageRow, now: datetime
) -> None:
    key = f"{failed.incident_id or 'none'}:{failed.person_id}"
    if failed.incident_id is None:
        key += f":{now.date().isoformat()}"
    if not await claim_run(session, job="unreachable", key=key, now=now):
        return
    person = roster.people[failed.person_id]
    log.warning("person.unreachable", person=person.id, incident=failed.incident_id)
    if failed.incident_id is not None:
        add_entry(
            session,
            incident_id=failed.incident_id,
            at=now,
            kind="person_unreachable",
            summary=f"{person.name} cannot be reached: every contact method failed",
        )
    tops = [u.id for u in roster.units.values() if u.parent is None]
    for unit_id in tops:
        for holder in roster.holders("duty_officer", unit_id, now):
            if holder.person.id == person.id:
                continue
            body = render_plain(
                "unreachable",
                holder.person.language,
                {"person_name": person.name, "incident_id": failed.incident_id},
            )
            queue_to_person(session, holder.person, body, now, incident_id=failed.incident_id)
