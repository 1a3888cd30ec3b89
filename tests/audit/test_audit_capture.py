"""What the audit entry of a transaction holds when savepoints in it roll back: the
changes made before and after them, none made inside them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.audit.context import Actor, acting_as
from service.audit.tables import AuditRow
from service.flows.incidents import report_incident
from service.incidents.tables import IncidentRow
from service.store.job_runs import claim_run
from tests.engine_helpers import flood_report


async def _report(session: AsyncSession, dutyd: Dutyd) -> IncidentRow:
    incident, _ = await report_incident(
        session,
        flood_report(),
        roster=dutyd.runtime.roster,
        plans=dutyd.runtime.plans,
        reporter="tester",
        now=dutyd.clock.now(),
        worker=dutyd.worker,
    )
    await session.flush()
    return incident


async def _entries(dutyd: Dutyd, action: str) -> list[AuditRow]:
    async with dutyd.sessions() as session:
        return list(await session.scalars(select(AuditRow).where(AuditRow.action == action)))


async def test_a_savepoint_rolled_back_takes_only_its_own_changes(dutyd: Dutyd) -> None:
    now = dutyd.clock.now()
    async with dutyd.sessions.begin() as session:
        assert await claim_run(session, job="test", key="once", now=now)
    with acting_as(Actor("tester", "person", "10.0.0.7", "savepoints")):
        async with dutyd.sessions.begin() as session:
            incident = await _report(session, dutyd)
            title = incident.title
            # Done already: this savepoint's insert fails on the unique key.
            assert not await claim_run(session, job="test", key="once", now=now)
            try:
                async with session.begin_nested():
                    incident.title = "changed in a savepoint"
                    await session.flush()
                    raise LookupError("the savepoint is undone")
            except LookupError:
                pass
            incident.location = "after the savepoints"
    [entry] = await _entries(dutyd, "savepoints")
    assert entry.actor == "tester" and entry.address == "10.0.0.7"
    recorded: dict[str, Any] = entry.changes[f"incidents:{incident.id}"]
    assert recorded["how"] == "added"
    assert recorded["columns"]["title"] == [None, title]
    assert recorded["columns"]["location"][1] == "after the savepoints"
    assert any(s.startswith("escalation_steps:") for s in entry.subjects)
    assert any(s.startswith("report_duties:") for s in entry.subjects)


async def test_a_transaction_rolled_back_leaves_nothing_for_the_next(dutyd: Dutyd) -> None:
    async with dutyd.sessions() as session:
        with acting_as(Actor("tester", "person", "", "undone")):
            await session.begin()
            await _report(session, dutyd)
            await session.rollback()
        with acting_as(Actor("tester", "person", "", "next")):
            async with session.begin():
                kept = (await _report(session, dutyd)).id
    assert await _entries(dutyd, "undone") == []
    [entry] = await _entries(dutyd, "next")
    assert [s for s in entry.subjects if s.startswith("incidents:")] == [f"incidents:{kept}"]
