"""Plan versions are archived once per database, and a rolled-back archive is not assumed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.clock import FrozenClock
from service.flows.incidents import report_incident
from service.incidents.tables import IncidentRow
from service.plans.archive import remember_version
from service.plans.tables import PlanVersionRow
from tests.engine_helpers import flood_report, report, start_dutyd


class Abort(Exception):
    pass


async def test_rolled_back_version_is_stored_by_the_next_report(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        with pytest.raises(Abort):
            async with dutyd.sessions.begin() as session:
                await report_incident(
                    session,
                    flood_report(),
                    roster=dutyd.runtime.roster,
                    plans=dutyd.runtime.plans,
                    reporter="test",
                    now=clock.now(),
                    worker=dutyd.worker,
                )
                raise Abort  # the transaction that archived the version rolls back
        first = await report(dutyd)
        second = await report(dutyd)  # now the lookup is skipped: the version is known stored
        assert second > first
        async with dutyd.reads() as session:
            incident = await session.get(IncidentRow, second)
            assert incident is not None
            versions = await session.scalar(
                select(func.count())
                .select_from(PlanVersionRow)
                .where(PlanVersionRow.digest == incident.plan_version)
            )
        assert versions == 1  # (every plan of the set in force is archived at start, too)
    finally:
        await dutyd.stop()


async def test_a_version_archived_in_a_released_savepoint_is_not_assumed_stored(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A savepoint's release is not the transaction's commit: machine intake archives a new
    version inside a report's savepoint, and the batch around it may still roll back."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        unseen = dutyd.runtime.plans.plans[0].model_copy(update={"digest": "not-yet-archived"})
        with pytest.raises(Abort):
            async with dutyd.sessions.begin() as session:
                async with session.begin_nested():
                    await remember_version(session, unseen, clock.now())
                raise Abort  # the batch around the released savepoint rolls back
        async with dutyd.sessions.begin() as session:
            await remember_version(session, unseen, clock.now())
        async with dutyd.reads() as session:
            assert await session.get(PlanVersionRow, "not-yet-archived") is not None
    finally:
        await dutyd.stop()
