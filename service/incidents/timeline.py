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

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

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


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.flush()
        session.execute(*insert_statement(session, TIMELINE, pending))


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: its entries are not written
        session.info.pop(_PENDING, None)
