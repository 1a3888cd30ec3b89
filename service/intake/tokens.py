"""Source tokens as the intake routes check them: looked up in the database once, then
trusted for TRUST_SECONDS. A machine in a storm sends thousands of requests a second with
one token; a token revoked (or renamed) is refused within that time. Only tokens found
valid are kept, so a wrong token is looked up every time, as on every other route."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.tables import ApiTokenRow
from service.auth.tokens import authenticate
from service.errors import AuthError

TRUST_SECONDS = 2.0
MAX_KEPT = 1000  # distinct tokens; past it the table starts again


@dataclass
class TrustedTokens:
    reads: async_sessionmaker[AsyncSession]
    _found: dict[str, tuple[ApiTokenRow, float]] = field(default_factory=dict)

    def trusted(self, token: str) -> ApiTokenRow | None:
        """The token's row if it was found valid less than TRUST_SECONDS ago, else None."""
        found = self._found.get(_key(token))
        if found is not None and time.monotonic() - found[1] < TRUST_SECONDS:
            return found[0]
        return None

    async def authenticate(self, token: str | None) -> ApiTokenRow:
        if not token:
            raise AuthError("missing bearer token")
        row = self.trusted(token)
        if row is not None:
            return row
        async with self.reads() as session:
            row = await authenticate(session, token)
        if len(self._found) >= MAX_KEPT:
            self._found.clear()
        self._found[_key(token)] = (row, time.monotonic())
        return row


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
