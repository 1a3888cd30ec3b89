"""Console accounts of the roster's people: passwords (argon2), role grants per unit,
one-time invitation links, and the principal a login or an API token acts as."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.policy import Grant, Principal
from service.auth.tables import AccountRow, ApiTokenRow, InviteRow, RoleGrantRow, WebSessionRow
from service.auth.tokens import Role
from service.errors import AuthError, InvalidInput, NotFound

HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def digest(secret: str) -> str:
    # Secrets here are 256 random bits: a plain hash is enough to keep them out of the rows.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if password.strip() != password or len(set(password)) < 4:
        raise InvalidInput(
            "a password may not begin or end with spaces, and needs at least 4 different "
            "characters",
            field="password",
        )


# Checked against when there is no real hash, so that a refusal takes as long as a check.
DUMMY_HASH = HASHER.hash(secrets.token_hex(16))
# Password checks at once: each takes a core for a tenth of a second or more.
CHECKS = threading.BoundedSemaphore(2)


def _verify(stored: str, password: str) -> bool:
    with CHECKS:
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


async def password_matches_hash(stored: str, password: str) -> bool:
    """The slow argon2 check, off the event loop (which runs the escalations)."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return False


async def find_account(session: AsyncSession, person_id: str) -> AccountRow | None:
    return await session.scalar(select(AccountRow).where(AccountRow.person_id == person_id))


async def ensure_account(
    session: AsyncSession, person_id: str, *, known_people: set[str], now: datetime
) -> AccountRow:
    """The person's account, created (without a password) if there is none yet."""
    if person_id not in known_people:
        raise NotFound("person", person_id)
    account = await find_account(session, person_id)
    if account is None:
        account = AccountRow(person_id=person_id, created_at=now)
        session.add(account)
        await session.flush()
    return account


async def require_account(session: AsyncSession, person_id: str) -> AccountRow:
    account = await find_account(session, person_id)
    if account is None:
        raise NotFound("account", person_id)
    return account


def set_password(account: AccountRow, password: str) -> None:
    """A new password; the caller ends the account's sessions (`end_sessions`)."""
    check_password_rules(password)
    account.password_hash = HASHER.hash(password)
    account.failed_logins, account.locked_until = 0, None


async def end_sessions(session: AsyncSession, account_id: int, now: datetime) -> int:
    """End every open console session of the account (a new password, a disabled account)."""
    result = await session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.account_id == account_id, WebSessionRow.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)


async def disable_account(session: AsyncSession, account: AccountRow, now: datetime) -> int:
    account.disabled_at = now
    return await end_sessions(session, account.id, now)


async def grant_role(
    session: AsyncSession,
    account: AccountRow,
    grant: Grant,
    *,
    known_units: set[str],
    by: str,
    now: datetime,
) -> bool:
    """Grant a role on a unit (None: every unit); False if the account had it already."""
    if grant.role is Role.source:
        raise InvalidInput("the source role is for machines' API tokens, not people", field="role")
    if grant.unit is not None and grant.unit not in known_units:
        raise NotFound("unit", grant.unit)
    existing = await session.scalar(
        select(RoleGrantRow).where(
            RoleGrantRow.account_id == account.id,
            RoleGrantRow.role == grant.role.value,
            RoleGrantRow.unit_id.is_(None)
            if grant.unit is None
            else RoleGrantRow.unit_id == grant.unit,
        )
    )
    if existing is not None:
        changed = existing.with_subunits != grant.with_subunits
        existing.with_subunits = grant.with_subunits
        return changed
    session.add(
        RoleGrantRow(
            account_id=account.id,
            role=grant.role.value,
            unit_id=grant.unit,
            with_subunits=grant.with_subunits,
            granted_by=by,
            granted_at=now,
        )
    )
    return True


async def revoke_role(
    session: AsyncSession, account: AccountRow, role: Role, unit: str | None
) -> bool:
    query = delete(RoleGrantRow).where(
        RoleGrantRow.account_id == account.id, RoleGrantRow.role == role.value
    )
    query = query.where(
        RoleGrantRow.unit_id.is_(None) if unit is None else RoleGrantRow.unit_id == unit
    )
    return bool((await session.execute(query)).rowcount)


async def grants_of(session: AsyncSession, account_id: int) -> tuple[Grant, ...]:
    rows = await session.scalars(
        select(RoleGrantRow).where(RoleGrantRow.account_id == account_id).order_by(RoleGrantRow.id)
    )
    return tuple(Grant(Role(r.role), r.unit_id, r.with_subunits) for r in rows)


async def principal_for_account(session: AsyncSession, account: AccountRow) -> Principal:
    return Principal(
        name=account.person_id,
        person_id=account.person_id,
        grants=await grants_of(session, account.id),
    )


def principal_for_token(token: ApiTokenRow) -> Principal:
    """A machine's token holds its one role on every unit."""
    return Principal(name=token.name, grants=(Grant(Role(token.role)),), token_id=token.id)


async def create_invite(
    session: AsyncSession, account: AccountRow, *, by: str, now: datetime, valid: timedelta
) -> str:
    """A one-time secret for the account's invitation link; earlier unused ones lapse."""
    for old in await session.scalars(
        select(InviteRow).where(InviteRow.account_id == account.id, InviteRow.used_at.is_(None))
    ):
        old.used_at = now
    secret = secrets.token_urlsafe(32)
    session.add(
        InviteRow(
            account_id=account.id,
            secret_hash=digest(secret),
            created_by=by,
            created_at=now,
            expires_at=now + valid,
        )
    )
    return secret


async def redeem_invite(
    session: AsyncSession, secret: str, password: str, *, now: datetime
) -> AccountRow:
    """Set the password an invitation was for; the link works once, before it expires."""
    invite = await session.scalar(
        select(InviteRow).where(InviteRow.secret_hash == digest(secret)).with_for_update()
    )
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise AuthError("this invitation link is unknown, used or expired: ask for a new one")
    account = await session.get(AccountRow, invite.account_id)
    if account is None or account.disabled_at is not None:
        raise AuthError("this invitation's account is disabled")
    set_password(account, password)
    await end_sessions(session, account.id, now)
    invite.used_at = now
    return account


async def invite_is_open(session: AsyncSession, secret: str, now: datetime) -> bool:
    invite = await session.scalar(select(InviteRow).where(InviteRow.secret_hash == digest(secret)))
    return invite is not None and invite.used_at is None and invite.expires_at > now


async def list_accounts(session: AsyncSession) -> list[tuple[AccountRow, tuple[Grant, ...]]]:
    accounts = await session.scalars(select(AccountRow).order_by(AccountRow.person_id))
    return [(a, await grants_of(session, a.id)) for a in accounts.all()]
