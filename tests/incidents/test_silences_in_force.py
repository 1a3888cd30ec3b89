"""The silences in force are read once a transaction and time (a storm's batch opens its
incidents at one moment), and never kept past a change or into another transaction."""

from __future__ import annotations

from datetime import timedelta

from service.app import Dutyd
from service.clock import FrozenClock
from service.incidents.silences import (
    SilenceRequest,
    active_silence,
    create_silence,
    expire_silence,
)


def flood_silence(clock: FrozenClock) -> SilenceRequest:
    return SilenceRequest(
        event_type="flood", reason="检修青山河水位站", ends_at=clock.now() + timedelta(hours=1)
    )


async def silenced(dutyd: Dutyd, clock: FrozenClock, session: object) -> int | None:
    found = await active_silence(
        session,  # type: ignore[arg-type]
        source="webhook",
        category="natural_disaster",
        event_type="flood",
        unit="qingshan",
        dedup_key="alertmanager:water-level:station=S1",
        now=clock.now(),
    )
    return found.id if found is not None else None


async def test_a_silence_made_or_ended_is_seen_at_the_same_moment(
    dutyd: Dutyd, clock: FrozenClock
) -> None:
    async with dutyd.sessions.begin() as session:
        assert await silenced(dutyd, clock, session) is None
        made = await create_silence(session, flood_silence(clock), actor="leader", now=clock.now())
        assert await silenced(dutyd, clock, session) == made.id
        await expire_silence(session, made.id, now=clock.now())
        assert await silenced(dutyd, clock, session) is None


async def test_another_transaction_reads_them_again(dutyd: Dutyd, clock: FrozenClock) -> None:
    async with dutyd.sessions() as session:
        async with session.begin():
            assert await silenced(dutyd, clock, session) is None
        async with dutyd.sessions.begin() as other:
            made = await create_silence(
                other, flood_silence(clock), actor="leader", now=clock.now()
            )
        async with session.begin():
            assert await silenced(dutyd, clock, session) == made.id
