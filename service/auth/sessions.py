"""Console logins: checking a password with lockout and a record of every attempt, and
sessions held in a signed cookie with idle and absolute expiry and a CSRF token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.accounts import digest, find_account, password_matches
from service.auth.tables import AccountRow, LoginAttemptRow, SigningKeyRow, WebSessionRow

COOKIE_KEY = "console-session"
# A session's last use is written at most this often: reads need not write each time.
SEEN_EVERY = timedelta(minutes=1)
# What a refused login is told: never which part was wrong.
REFUSED = "wrong name or password, or the account is locked for a while: try again later"
ADDRESS_FAILURES = 20  # failed logins from one address in a lockout period before it waits


@dataclass(frozen=True)
class SessionRules:
    idle: timedelta
    absolute: timedelta
    max_failures: int
    lockout: timedelta


async def signing_key(session: AsyncSession, name: str, now: datetime) -> str:
    """A key every process on this database shares, made on first use."""
    row = await session.get(SigningKeyRow, name)
    if row is not None:
        return row.secret
    try:
        async with session.begin_nested():
            session.add(SigningKeyRow(name=name, secret=secrets.token_hex(32), created_at=now))
    except IntegrityError:
        pass  # another process made it first
    row = await session.get(SigningKeyRow, name, populate_existing=True)
    assert row is not None
    return row.secret


async def serializer(session: AsyncSession, now: datetime) -> URLSafeSerializer:
    return URLSafeSerializer(await signing_key(session, COOKIE_KEY, now), salt="dutyd-session")


def _record(
    session: AsyncSession, login: str, address: str, now: datetime, ok: bool, reason: str
) -> None:
    session.add(
        LoginAttemptRow(
            login=login[:128], address=address[:64], at=now, succeeded=ok, reason=reason
        )
    )


async def check_login(
    session: AsyncSession,
    login: str,
    password: str,
    *,
    address: str,
    now: datetime,
    rules: SessionRules,
) -> AccountRow | None:
    """The account if the password is right and nothing bars it; None otherwise (commit
    either way: every attempt is recorded). Failures in a row lock the account for a
    while, and an address with many failures waits too."""
    recent_failures = await session.scalar(
        select(func.count())
        .select_from(LoginAttemptRow)
        .where(
            LoginAttemptRow.address == address,
            LoginAttemptRow.succeeded.is_(False),
            LoginAttemptRow.at > now - rules.lockout,
        )
    )
    if int(recent_failures or 0) >= ADDRESS_FAILURES:
        _record(session, login, address, now, False, "address rate-limited")
        return None
    account = await find_account(session, login)
    if account is None or account.disabled_at is not None:
        _record(session, login, address, now, False, "no such account")
        return None
    if account.locked_until is not None and account.locked_until > now:
        _record(session, login, address, now, False, "account locked")
        return None
    if not password_matches(account, password):
        account.failed_logins += 1
        reason = "wrong password"
        if account.failed_logins >= rules.max_failures:
            account.locked_until, account.failed_logins = now + rules.lockout, 0
            reason += f"; locked until {account.locked_until.isoformat()}"
        _record(session, login, address, now, False, reason)
        return None
    account.failed_logins, account.locked_until = 0, None
    _record(session, login, address, now, True, "")
    return account


async def start_session(
    session: AsyncSession,
    account: AccountRow,
    *,
    address: str,
    now: datetime,
    rules: SessionRules,
) -> str:
    """A new session; returns the cookie value (a signed random secret)."""
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSessionRow(
            secret_hash=digest(secret),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(32),
            address=address[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=now + rules.absolute,
        )
    )
    return (await serializer(session, now)).dumps(secret)


async def session_for_cookie(
    session: AsyncSession, cookie: str | None, *, now: datetime, rules: SessionRules
) -> tuple[WebSessionRow, AccountRow] | None:
    """The live session a cookie names, its last use brought up to date; None if the
    cookie is missing, forged, or its session ended, idled out or expired."""
    if not cookie:
        return None
    try:
        secret = (await serializer(session, now)).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(secret, str):
        return None
    row = await session.scalar(
        select(WebSessionRow).where(WebSessionRow.secret_hash == digest(secret))
    )
    if row is None or row.ended_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + rules.idle <= now:
        row.ended_at = now
        return None
    account = await session.get(AccountRow, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return row, account


def end_session(row: WebSessionRow, now: datetime) -> None:
    row.ended_at = now
