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

    async def authenticate(self, token: str | None) -> ApiTokenRow:
        if not token:
            raise AuthError("missing bearer token")
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        now = time.monotonic()
        found = self._found.get(key)
        if found is not None and now - found[1] < TRUST_SECONDS:
            return found[0]
        async with self.reads() as session:
            row = await authenticate(session, token)
        if len(self._found) >= MAX_KEPT:
            self._found.clear()
        self._found[key] = (row, now)
        return row
