"""Engine guarantees on SQLite and PostgreSQL: due work fires once, at its time, durably."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.clock import FrozenClock
from service.escalation.tables import EscalationStepRow, StepState
from service.flows.engine import RunResult
from service.notify.outbox import DeliveryPolicy
from service.notify.tables import MessageRow, MessageState
from service.passes import REPASS_AFTER, WAKE_JOB_ID
from tests.conftest import REPO
from tests.engine_helpers import count, report, start_dutyd

PAGING_ONLY = REPO / "tests" / "testdata" / "engine_plans"


async def test_step_fires_only_when_due(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """The second step waits exactly the plan's wait, then fires once."""
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    try:
        await report(dutyd)
        await dutyd.tick()
        assert len(transport.sent) == 4  # officer and leader, sms and email

        clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
        assert (await dutyd.tick()).steps_fired == 0
        clock.advance(timedelta(seconds=1))
        result = await dutyd.tick()
        assert result.steps_fired == 1 and result.messages_attempted == 2
        assert (await dutyd.tick()).steps_fired == 0
        assert len(transport.sent) == 6
        assert await dutyd.engine.next_due_at() == clock.now() + timedelta(minutes=10)
    finally:
        await dutyd.stop()


async def test_pending_step_fires_once_after_restart(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A step pending when the process dies fires once after restart, late or on time."""
    first, first_transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    incident_id = await report(first)
    await first.tick()
    # Simulate kill -9: no graceful shutdown of the engine, just drop the connections.
    assert first.db is not None
    await first.db.dispose()

    clock.advance(timedelta(minutes=25))  # past the 10 minute wait while "down"
    second, second_transport = await start_dutyd(
        tmp_path, database_url, clock, worker="worker-b", plans_dir=PAGING_ONLY
    )
    try:
        assert (await second.tick()).steps_fired >= 1
        for _ in range(3):
            await second.tick()
        fired = await count(
            second,
            EscalationStepRow,
            EscalationStepRow.incident_id == incident_id,
            EscalationStepRow.state == StepState.fired,
        )
        # Step 2 fired late at restart; step 3 is due 10 minutes after that, not yet.
        assert fired == 2
        assert len(first_transport.sent) == 4
        assert len(second_transport.sent) == 2
        assert {m.address for m in second_transport.sent} == {
            "+8613800001301",
            "zheng.hao@qingshan.example.gov.cn",
        }
    finally:
        await second.stop()

    third, third_transport = await start_dutyd(
        tmp_path, database_url, clock, worker="worker-c", plans_dir=PAGING_ONLY
    )
    try:
        await third.tick()
        assert third_transport.sent == []
    finally:
        await third.stop()


async def test_message_left_sending_by_a_dead_process_is_taken_over(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A claim whose holder died is taken over once its lease runs out; none is lost."""
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    try:
        await report(dutyd)
        outbox = dutyd.engine.outbox
        claimed = [  # every lane claims its share; then the process "dies"
            message for lane in range(outbox.lanes) for message in (await outbox.claim(lane))[0]
        ]
        assert len(claimed) == 4
        await dutyd.tick()
        assert transport.sent == []  # still within the dead process's lease
        clock.advance(timedelta(seconds=dutyd.settings.send_lease_seconds + 1))
        await dutyd.tick()
        assert sorted(m.id for m in transport.sent) == sorted(m.id for m in claimed)
        assert await count(dutyd, MessageRow, MessageRow.state != MessageState.delivered) == 0
    finally:
        await dutyd.stop()


async def test_two_processes_share_due_work_without_duplicates(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Two engines on one database fire every due step and send every message exactly once."""
    a, a_transport = await start_dutyd(
        tmp_path, database_url, clock, worker="worker-a", plans_dir=PAGING_ONLY
    )
    b, b_transport = await start_dutyd(
        tmp_path, database_url, clock, worker="worker-b", plans_dir=PAGING_ONLY
    )
    a.engine.batch_size = b.engine.batch_size = 5
    a.engine.outbox.batch_size = b.engine.outbox.batch_size = 5
    a.engine.outbox.lanes = b.engine.outbox.lanes = 3  # batches in flight at once, each process
    # Forty incidents page the same two people: no digest, rate limit or gathering here, to
    # count each.
    unbundled = DeliveryPolicy(
        digest_threshold=100, rate_limit_per_minute=600, digest_gather=timedelta(0)
    )
    a.engine.outbox.policy = b.engine.outbox.policy = unbundled
    try:
        incidents = 40
        for i in range(incidents):
            await report(a if i % 2 else b, None)
        clock.advance(timedelta(minutes=10))
        await asyncio.gather(a.tick(), b.tick(), a.tick(), b.tick())

        sent = [m.id for m in a_transport.sent + b_transport.sent]
        duplicates = [mid for mid, n in Counter(sent).items() if n > 1]
        assert duplicates == []
        # Step 1: 4 messages per incident, step 2: 2 more.
        assert len(sent) == incidents * 6
        assert await count(a, MessageRow) == incidents * 6
        fired = await count(a, EscalationStepRow, EscalationStepRow.state == StepState.fired)
        assert fired == incidents * 2
        if "postgresql" in database_url:
            assert a_transport.sent and b_transport.sent, "both processes should take a share"
    finally:
        await a.stop()
        await b.stop()


async def test_acknowledgement_cancels_pending_steps(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """After an ack no step fires, however long we wait; those paged are told who acknowledged."""
    from service.flows.incidents import acknowledge

    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    try:
        incident_id = await report(dutyd)
        await dutyd.tick()
        async with dutyd.sessions.begin() as session:
            await acknowledge(
                session,
                roster=dutyd.runtime.roster,
                plans=dutyd.runtime.plans,
                incident_id=incident_id,
                actor="wu_hua",
                now=clock.now(),
            )
        clock.advance(timedelta(hours=5))
        await dutyd.tick()
        # One notice to the officer (孙丽); the leader who acknowledged (吴华) is not told.
        notices = transport.sent[4:]
        assert [(m.address, "已由wu_hua确认" in m.body) for m in notices] == [
            ("+8613800001102", True)
        ]
        assert (
            await count(dutyd, EscalationStepRow, EscalationStepRow.state == StepState.pending) == 0
        )
    finally:
        await dutyd.stop()


async def test_wake_ups_during_a_pass_make_it_go_round_once_more(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Five wake-ups while a pass runs: none dropped, none queued; one more pass follows."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    passes = 0
    release = asyncio.Event()

    async def slow_tick() -> RunResult:
        nonlocal passes
        passes += 1
        if passes == 1:
            await release.wait()
        return RunResult()

    dutyd.tick = slow_tick  # type: ignore[method-assign]
    try:
        running = asyncio.create_task(dutyd._woken())
        await asyncio.sleep(0)
        for _ in range(5):
            await dutyd._woken()  # returns at once
        assert passes == 1
        release.set()
        await running
        assert passes == 2
    finally:
        await dutyd.stop()


async def test_stop_lets_a_running_pass_finish(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    await dutyd.run_scheduler()
    finished = asyncio.Event()

    async def slow_tick() -> RunResult:
        await asyncio.sleep(0.2)
        finished.set()
        return RunResult()

    dutyd.tick = slow_tick  # type: ignore[method-assign]
    running = asyncio.create_task(dutyd._woken())
    await asyncio.sleep(0)
    await dutyd.stop()
    assert finished.is_set()
    await running


async def test_what_came_due_during_a_pass_gets_a_pass_soon_not_at_the_safety_tick(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A digest gathered for half a second comes due while a slow pass still runs: the
    next pass follows in a tenth of a second, not a second later at the safety tick."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    await dutyd.run_scheduler()
    try:

        async def due_while_the_pass_ran() -> datetime:
            clock.advance(timedelta(seconds=0.7))  # the pass took 0.7 s
            return clock.now() - timedelta(seconds=0.2)

        dutyd.engine.next_due_at = due_while_the_pass_ran  # type: ignore[method-assign]
        await dutyd.tick()
        assert dutyd.scheduler is not None
        wake = dutyd.scheduler.get_job(WAKE_JOB_ID)
        assert wake is not None
        delay = (wake.next_run_time - datetime.now(UTC)).total_seconds()
        assert 0 < delay <= REPASS_AFTER.total_seconds()
    finally:
        await dutyd.stop()


async def test_what_was_due_before_the_pass_and_still_is_waits_for_the_safety_tick(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Due before the pass began and not worked by it (another process holds it): no
    pass every tenth of a second for it."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=PAGING_ONLY)
    await dutyd.run_scheduler()
    try:
        held_elsewhere = clock.now() - timedelta(minutes=1)

        async def still_due() -> datetime:
            return held_elsewhere

        dutyd.engine.next_due_at = still_due  # type: ignore[method-assign]
        await dutyd.tick()
        assert dutyd.scheduler is not None
        assert dutyd.scheduler.get_job(WAKE_JOB_ID) is None
    finally:
        await dutyd.stop()
