"""Source tokens as the intake routes check them: looked up in the database once, then
trusted for TRUST_SECONDS. A machine in a storm sends thousands of requests a second with
one token; a token revoked (or renamed) is refused within that time. Only tokens found
valid are kept, so a wrong token is looked up every time, as on every other route.

A trusted token is looked up again shortly before its trust runs out, once, while its
requests go on being served; and requests that find it not trusted share one lookup. In a
storm, the moment a token's trust lapsed used to send every request arriving meanwhile
down the slow path, each with a lookup of its own, which slowed the loop and lengthened
that moment: about a tenth of the daemon's time under a webhook storm."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.tables import ApiTokenRow
from service.auth.tokens import authenticate
from service.errors import AuthError

log = structlog.get_logger(__name__)
TRUST_SECONDS = 2.0
RENEW_AHEAD_SECONDS = 0.5  # looked up again this long before its trust runs out
MAX_KEPT = 1000  # distinct tokens; past it the table starts again


@dataclass
class TrustedTokens:
    reads: async_sessionmaker[AsyncSession]
    monotonic: Callable[[], float] = time.monotonic
    _found: dict[str, tuple[ApiTokenRow, float]] = field(default_factory=dict)
    _lookups: dict[str, asyncio.Task[ApiTokenRow]] = field(default_factory=dict)

    def trusted(self, token: str) -> ApiTokenRow | None:
        """The token's row if it was found valid less than TRUST_SECONDS ago, else None.
        Near the end of that time, one lookup starts that renews it if still valid."""
        key = _key(token)
        found = self._found.get(key)
        if found is None:
            return None
        age = self.monotonic() - found[1]
        if age >= TRUST_SECONDS:
            return None
        if age >= TRUST_SECONDS - RENEW_AHEAD_SECONDS and key not in self._lookups:
            self._look_up(key, token).add_done_callback(_quietly)
        return found[0]

    async def authenticate(self, token: str | None) -> ApiTokenRow:
        if not token:
            raise AuthError("missing bearer token")
        row = self.trusted(token)
        if row is not None:
            return row
        key = _key(token)
        lookup = self._lookups.get(key) or self._look_up(key, token)
        # Shielded: a request that goes away does not cancel the others' lookup.
        return await asyncio.shield(lookup)

    def _look_up(self, key: str, token: str) -> asyncio.Task[ApiTokenRow]:
        lookup = asyncio.ensure_future(self._read(key, token))
        self._lookups[key] = lookup
        lookup.add_done_callback(lambda _: self._lookups.pop(key, None))
        return lookup

    async def _read(self, key: str, token: str) -> ApiTokenRow:
        started = self.monotonic()  # valid as of no later than this
        try:
            async with self.reads() as session:
                row = await authenticate(session, token)
        except AuthError:
            self._found.pop(key, None)  # revoked meanwhile: refused from now on
            raise
        if len(self._found) >= MAX_KEPT:
            self._found.clear()
        self._found[key] = (row, started)
        return row


def _quietly(lookup: asyncio.Task[ApiTokenRow]) -> None:
    """A renewal's failure: the token is not renewed, and its next request says why."""
    if not lookup.cancelled() and lookup.exception() is not None:
        log.debug("intake.token_not_renewed", problem=str(lookup.exception()))


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
