"""Races and crashes in the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from service.clock import FrozenClock
from service.escalation.tables import EscalationStepRow, StepState
from service.flows.incidents import acknowledge, report_incident
from service.incidents.tables import IncidentRow
from tests.conftest import REPO
from tests.engine_helpers import count, flood_report, report, start_dutyd

PAGING_ONLY = REPO / "tests" / "testdata" / "engine_plans"


async def fired_steps(dutyd) -> int:  # type: ignore[no-untyped-def]
    return await count(dutyd, EscalationStepRow, EscalationStepRow.state == StepState.fired)


async def test_acknowledgement_racing_a_due_step(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """An acknowledgement under way when step 2 falls due: step 2 never fires."""
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    try:
        incident_id = await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(minutes=10))  # step 2 is due now
        async with dutyd.sessions.begin() as session:
            await acknowledge(
                session,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                incident_id=incident_id,
                actor="wu_hua",
                now=clock.now(),
            )
            # The engine runs while the acknowledgement's transaction is still open.
            engine_pass = asyncio.create_task(dutyd.engine.run_due())
            await asyncio.sleep(0)
        await engine_pass
        await dutyd.tick()
        assert await fired_steps(dutyd) == 1
        assert [m.address for m in transport.sent[4:]] == ["+8613800001102"]  # the ack notice
    finally:
        await dutyd.stop()


async def test_crash_between_claiming_and_finishing_a_step(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A process that claimed a due step and died leaves it to the next; it fires once."""
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    try:
        await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(minutes=10))
        dying = await dutyd.db.connect()  # type: ignore[union-attr]
        transaction = await dying.begin()
        claimed = (
            await dying.execute(
                select(EscalationStepRow.id)
                .where(EscalationStepRow.state == StepState.pending)
                .with_for_update()
            )
        ).all()
        assert len(claimed) == 1
        if "postgresql" in database_url:
            # While the claim is held, another engine leaves the row alone.
            await dutyd.engine.run_due()
            assert await fired_steps(dutyd) == 1
        await transaction.rollback()  # the process dies: its claim and work vanish
        await dying.close()
        await dutyd.tick()
        await dutyd.tick()
        assert await fired_steps(dutyd) == 2
        assert len(transport.sent) == 6
    finally:
        await dutyd.stop()


async def test_incident_locked_by_acknowledgement_is_skipped_not_waited_for(
    tmp_path: Path, postgres_url: str, clock: FrozenClock
) -> None:
    """On PostgreSQL the engine skips an incident another transaction holds, then catches up."""
    dutyd, _ = await start_dutyd(tmp_path, postgres_url, clock, plans_dir=PAGING_ONLY)
    try:
        incident_id = await report(dutyd)
        await dutyd.tick()
        clock.advance(timedelta(minutes=10))
        holder = await dutyd.db.connect()  # type: ignore[union-attr]
        transaction = await holder.begin()
        await holder.execute(
            select(IncidentRow.id).where(IncidentRow.id == incident_id).with_for_update()
        )
        result = await asyncio.wait_for(dutyd.engine.run_due(), timeout=10)
        assert result.steps_fired == 0
        await transaction.rollback()
        await holder.close()
        assert (await dutyd.engine.run_due()).steps_fired == 1
    finally:
        await dutyd.stop()


async def test_reports_with_one_dedup_key_at_once_open_one_incident(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Reports of the same thing arriving together, each in its own transaction (two
    processes' engines in a storm, or API requests at once): one incident, the rest merged
    into it. FOR UPDATE cannot lock an incident that does not exist yet."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    repeated = flood_report().model_copy(update={"dedup_key": "station-S17-flood"})

    async def one_report() -> bool:
        async with dutyd.sessions.begin() as session:
            _, deduplicated = await report_incident(
                session,
                repeated,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                reporter="hydro-platform",
                now=clock.now(),
                worker=dutyd.worker,
            )
            return deduplicated

    try:
        merged = await asyncio.gather(*(one_report() for _ in range(8)))
        assert sorted(merged) == [False] + [True] * 7
        assert await count(dutyd, IncidentRow, IncidentRow.dedup_key == "station-S17-flood") == 1
    finally:
        await dutyd.stop()
