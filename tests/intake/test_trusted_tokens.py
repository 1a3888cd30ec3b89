"""A source token trusted for a moment: renewed once shortly before the moment ends while
its requests go on, looked up once for many requests at a time, and a revoked one refused
within the moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.tokens import revoke_token
from service.errors import AuthError
from service.intake.tokens import RENEW_AHEAD_SECONDS, TRUST_SECONDS, TrustedTokens
from tests.conftest import Daemon
from tests.intake.test_fast_path import source_token


class Counted:
    """The daemon's read sessions, counting how many lookups were opened."""

    def __init__(self, daemon: Daemon) -> None:
        self.reads, self.opened = daemon.dutyd.reads, 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        self.opened += 1
        async with self.reads() as session:
            yield session


class Moment:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_for(daemon: Daemon) -> tuple[TrustedTokens, Counted, Moment]:
    reads, moment = Counted(daemon), Moment()
    return TrustedTokens(reads, monotonic=moment), reads, moment  # type: ignore[arg-type]


async def settled(tokens: TrustedTokens) -> None:
    while tokens._lookups:
        await asyncio.gather(*tokens._lookups.values(), return_exceptions=True)


async def test_renewed_once_before_its_trust_runs_out(daemon: Daemon) -> None:
    token = await source_token(daemon)
    tokens, reads, moment = tokens_for(daemon)
    assert tokens.trusted(token) is None  # never looked up
    first = await tokens.authenticate(token)
    assert tokens.trusted(token) is first and reads.opened == 1

    moment.now += TRUST_SECONDS - RENEW_AHEAD_SECONDS - 0.1
    assert tokens.trusted(token) is first and not tokens._lookups  # not yet
    moment.now += 0.2
    served = [tokens.trusted(token) for _ in range(100)]  # a storm's requests meanwhile
    assert all(row is first for row in served)
    await settled(tokens)
    assert reads.opened == 2  # one renewal for all of them

    moment.now += RENEW_AHEAD_SECONDS + 0.1  # past the first trust, within the renewed
    renewed = tokens.trusted(token)
    assert renewed is not None and renewed is not first and renewed.name == first.name


async def test_a_lapsed_token_is_looked_up_once_for_all_waiting(daemon: Daemon) -> None:
    token = await source_token(daemon)
    tokens, reads, moment = tokens_for(daemon)
    rows = await asyncio.gather(*(tokens.authenticate(token) for _ in range(20)))
    assert reads.opened == 1 and len({id(row) for row in rows}) == 1
    moment.now += TRUST_SECONDS  # lapsed: no request renewed it in time
    assert tokens.trusted(token) is None
    await asyncio.gather(*(tokens.authenticate(token) for _ in range(20)))
    assert reads.opened == 2


async def test_a_revoked_token_is_refused_within_its_trust(daemon: Daemon) -> None:
    token = await source_token(daemon)
    tokens, _, moment = tokens_for(daemon)
    await tokens.authenticate(token)
    dutyd = daemon.dutyd
    async with dutyd.sessions.begin() as session:
        assert await revoke_token(session, name="alertmanager", now=dutyd.clock.now())
    moment.now += 0.5
    assert tokens.trusted(token) is not None  # trusted until it is looked up again
    moment.now += TRUST_SECONDS - RENEW_AHEAD_SECONDS - 0.4
    assert tokens.trusted(token) is not None  # its renewal starts
    await settled(tokens)
    assert tokens.trusted(token) is None
    with pytest.raises(AuthError):
        await tokens.authenticate(token)
    wrong = "dutyd_" + "x" * 43
    with pytest.raises(AuthError):
        await tokens.authenticate(wrong)
    assert tokens.trusted(wrong) is None
