"""Append entries to an incident's timeline; nothing here edits or deletes one.

Entries are gathered in the session and written with one multi-row INSERT when the
transaction commits (or before a read of the timeline in the same transaction, see
`write_pending`), all at once (`service.store.bulk`: one statement on PostgreSQL, an
executemany on SQLite): as ORM objects each entry would cost an INSERT of its own, since
SQLite cannot return the ids of a multi-row INSERT in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from service.incidents.models import TimelineEntry
from service.incidents.tables import TimelineEntryRow
from service.store.bulk import insert_rows, insert_statement

SYSTEM_ACTOR = "dutyd"
TIMELINE = TimelineEntryRow.__table__
_PENDING = "dutyd.timeline.pending"


def add_entry(
    session: AsyncSession,
    *,
    incident_id: int,
    at: datetime,
    kind: str,
    summary: str,
    actor: str = SYSTEM_ACTOR,
    data: dict[str, Any] | None = None,
) -> None:
    values = {
        "incident_id": incident_id,
        "at": at,
        "kind": kind,
        "actor": actor,
        "summary": summary,
        "data": data or {},
    }
    if session.in_nested_transaction():
        # A savepoint may roll back on its own: its entries must go with it.
        session.add(TimelineEntryRow(**values))
        return
    session.info.setdefault(_PENDING, []).append(values)


def pending_entries(session: AsyncSession) -> list[dict[str, Any]]:
    """Entries gathered in this transaction and not yet written."""
    return list(session.info.get(_PENDING, []))


async def write_pending(session: AsyncSession) -> None:
    """Write the entries gathered so far; call before reading the timeline."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        await session.flush()  # the incidents they belong to first
        await insert_rows(session, TIMELINE, pending)


async def fired_step_people(session: AsyncSession, incident_id: int) -> list[str]:
    """Everyone an escalation step of the incident has paged so far, in order."""
    await write_pending(session)
    fired = await session.scalars(
        select(TimelineEntryRow.data).where(
            TimelineEntryRow.incident_id == incident_id, TimelineEntryRow.kind == "step_fired"
        )
    )
    return list(dict.fromkeys(p for data in fired for p in data.get("people", [])))


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint being released: what was gathered before it is the outer
        # transaction's, and would be lost with the savepoint if its own flush fails.
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.flush()
        session.execute(*insert_statement(session, TIMELINE, pending))


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: its entries are not written
        session.info.pop(_PENDING, None)


async def read_timeline(session: AsyncSession, incident_id: int) -> list[TimelineEntry]:
    """The incident's timeline, oldest first, including what this transaction added."""
    await write_pending(session)
    entries = await session.scalars(
        select(TimelineEntryRow)
        .where(TimelineEntryRow.incident_id == incident_id)
        .order_by(TimelineEntryRow.at, TimelineEntryRow.id)
    )
    return [
        TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, summary=e.summary, data=e.data)
        for e in entries
    ]


def pending_timeline(session: AsyncSession, incident_id: int) -> list[TimelineEntry]:
    """The entries this transaction added to the incident and has not written yet."""
    entries = [
        TimelineEntry(**{k: v for k, v in entry.items() if k != "incident_id"})
        for entry in pending_entries(session)
        if entry["incident_id"] == incident_id
    ]
    return sorted(entries, key=lambda e: e.at)  # stable: ties keep the order of writing
