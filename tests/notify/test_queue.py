"""Messages queued in a transaction: written with it, seen by its own later statements, kept
when a savepoint after them rolls back, gone with a transaction that rolls back."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.catalog import Channel
from service.incidents.tables import TimelineEntryRow
from service.incidents.timeline import add_entry
from service.notify.queue import messages_for_incident, queue_message, withdraw_pending
from service.notify.tables import MessageRow, MessageState
from service.store.job_runs import claim_run
from tests.engine_helpers import report


def _queue(session: AsyncSession, dutyd: Dutyd, incident_id: int, body: str) -> None:
    queue_message(
        session,
        person=dutyd.runtime.roster.people["sun_li"],
        channel=Channel.sms,
        address="+8613800001102",
        body=body,
        now=dutyd.clock.now(),
        incident_id=incident_id,
    )


async def _bodies(dutyd: Dutyd, incident_id: int, body_prefix: str) -> list[str]:
    async with dutyd.sessions() as session:
        rows = await session.scalars(
            select(MessageRow.body).where(
                MessageRow.incident_id == incident_id, MessageRow.body.startswith(body_prefix)
            )
        )
        return list(rows)


@pytest.fixture
async def incident_id(dutyd: Dutyd) -> int:
    return await report(dutyd)


async def test_a_later_statement_of_the_transaction_sees_what_it_queued(
    dutyd: Dutyd, incident_id: int
) -> None:
    async with dutyd.sessions.begin() as session:
        _queue(session, dutyd, incident_id, "test: first")
        _queue(session, dutyd, incident_id, "test: second")
        queued = [m.body for m in await messages_for_incident(session, incident_id)]
        assert queued[-2:] == ["test: first", "test: second"]
        withdrawn = await withdraw_pending(
            session, incident_id=incident_id, reason="test", now=dutyd.clock.now()
        )
        assert withdrawn >= 2
    async with dutyd.sessions() as session:
        states = await session.scalars(
            select(MessageRow.state).where(MessageRow.body.startswith("test: "))
        )
        assert set(states) == {MessageState.withdrawn}


async def test_queued_before_a_savepoint_that_rolls_back_is_kept(
    dutyd: Dutyd, incident_id: int
) -> None:
    now: datetime = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        assert await claim_run(session, job="test", key="once", now=now)
    async with dutyd.sessions.begin() as session:
        _queue(session, dutyd, incident_id, "test: before")
        add_entry(session, incident_id=incident_id, at=now, kind="test", summary="before")
        # Done already: the savepoint's insert fails on the unique key and rolls back.
        assert not await claim_run(session, job="test", key="once", now=now)
        _queue(session, dutyd, incident_id, "test: after")
    assert await _bodies(dutyd, incident_id, "test: ") == ["test: before", "test: after"]
    async with dutyd.sessions() as session:
        kept = await session.scalar(
            select(func.count()).where(
                TimelineEntryRow.incident_id == incident_id, TimelineEntryRow.kind == "test"
            )
        )
        assert kept == 1


async def test_queued_in_a_savepoint_goes_with_it(dutyd: Dutyd, incident_id: int) -> None:
    async with dutyd.sessions.begin() as session:
        _queue(session, dutyd, incident_id, "test: outer")
        try:
            async with session.begin_nested():
                _queue(session, dutyd, incident_id, "test: inner")
                raise LookupError("the savepoint's work is undone")
        except LookupError:
            pass
    assert await _bodies(dutyd, incident_id, "test: ") == ["test: outer"]


async def test_a_transaction_that_rolls_back_writes_none(dutyd: Dutyd, incident_id: int) -> None:
    with pytest.raises(LookupError):
        async with dutyd.sessions.begin() as session:
            _queue(session, dutyd, incident_id, "test: undone")
            raise LookupError("rolled back")
    async with dutyd.sessions.begin() as session:
        _queue(session, dutyd, incident_id, "test: next")
    assert await _bodies(dutyd, incident_id, "test: ") == ["test: next"]
