"""Message events: every change of a message's state is a row, with when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.tables import MessageEventRow
from service.store.bulk import insert_rows

EVENTS = MessageEventRow.__table__


def event_values(message_id: int, state: str, at: datetime, detail: str = "") -> dict[str, Any]:
    return {"message_id": message_id, "at": at, "state": state, "detail": detail}


def add_event(
    session: AsyncSession, message_id: int, state: str, at: datetime, detail: str = ""
) -> None:
    session.add(MessageEventRow(**event_values(message_id, state, at, detail)))


async def add_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    await insert_rows(session, EVENTS, events)
