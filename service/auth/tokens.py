"""Create and check API bearer tokens; only a SHA-256 of each token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.tables import ApiTokenRow
from service.errors import AuthError, InvalidInput

TOKEN_PREFIX = "dutyd_"


class Role(StrEnum):
    """What a person or a machine may do (auth.policy says which action needs which)."""

    duty_officer = "duty_officer"
    leader = "leader"
    warning_drafter = "warning_drafter"
    warning_approver = "warning_approver"
    roster_admin = "roster_admin"
    admin = "admin"
    viewer = "viewer"
    source = "source"  # a machine that may only report (Alertmanager, a station's platform)


def _digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain hash is enough; no salt or slow KDF needed.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_token(session: AsyncSession, *, name: str, role: Role, now: datetime) -> str:
    """Store a new token and return it; this is the only time it is ever shown."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiTokenRow(name=name, role=role.value, token_hash=_digest(token), created_at=now))
    try:
        await session.flush()
    except IntegrityError:
        raise InvalidInput(f"a token named {name!r} already exists", field="name") from None
    return token


async def revoke_token(session: AsyncSession, *, name: str, now: datetime) -> bool:
    row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


async def list_tokens(session: AsyncSession) -> list[ApiTokenRow]:
    return list(await session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name)))


async def authenticate(session: AsyncSession, token: str | None) -> ApiTokenRow:
    if not token:
        raise AuthError("missing bearer token")
    row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        raise AuthError("unknown or revoked token")
    return row
