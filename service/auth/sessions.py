"""Console logins: checking a password with lockout and a record of every attempt, and
sessions held in a signed cookie with idle and absolute expiry and a CSRF token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.accounts import (
    DUMMY_HASH,
    HASHER,
    digest,
    find_account,
    needs_rehash,
    password_matches_hash,
)
from service.auth.tables import AccountRow, LoginAttemptRow, SigningKeyRow, WebSessionRow

COOKIE_KEY = "console-session"
# A session's last use is written at most this often: reads need not write each time.
SEEN_EVERY = timedelta(minutes=1)
# What a refused login is told: never which part was wrong.
REFUSED = "wrong name or password, or the account is locked for a while: try again later"
# Failed logins from one address in a lockout period before it waits. Only guesses count,
# not its own throttled attempts, which would keep it shut for good under a slow trickle.
ADDRESS_FAILURES = 20


@dataclass(frozen=True)
class SessionRules:
    idle: timedelta
    absolute: timedelta
    max_failures: int
    lockout: timedelta


# Signing keys never change once made: each is read once per process and database.
_keys: dict[tuple[str, str], str] = {}


async def signing_key(
    session: AsyncSession, name: str, now: datetime, *, create: bool = True
) -> str | None:
    """A key every process on this database shares, made on first use (when `create`)."""
    cached = (str(session.bind.url) if session.bind is not None else "", name)
    if cached in _keys:
        return _keys[cached]
    row = await session.get(SigningKeyRow, name)
    if row is None and create:
        try:
            async with session.begin_nested():
                session.add(SigningKeyRow(name=name, secret=secrets.token_hex(32), created_at=now))
        except IntegrityError:
            pass  # another process made it first
        row = await session.get(SigningKeyRow, name, populate_existing=True)
    if row is None:
        return None
    _keys[cached] = row.secret
    return row.secret


def _serializer(key: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt="dutyd-session")


def _record(
    session: AsyncSession, login: str, address: str, now: datetime, ok: bool, reason: str
) -> None:
    session.add(
        LoginAttemptRow(
            login=login[:128], address=address[:64], at=now, succeeded=ok, reason=reason
        )
    )


async def check_login(
    sessions: async_sessionmaker[AsyncSession],
    login: str,
    password: str,
    *,
    address: str,
    now: datetime,
    rules: SessionRules,
) -> int | None:
    """The account's id if the password is right and nothing bars it; None otherwise.
    Every attempt is recorded. The attempt is counted against the account before the
    password is checked, in a transaction of its own that locks the account's row, so
    attempts in parallel cannot pass the lockout; the slow check itself runs off the
    event loop and outside any transaction, and every refusal costs the same time."""
    login = login[:128]
    async with sessions.begin() as session:
        barred = await _barred(session, login, address, now, rules)
        if barred is not None:
            _record(session, login, address, now, False, barred)
    if barred is not None:
        await password_matches_hash(DUMMY_HASH, password)  # the same time as a real check
        return None
    async with sessions() as session:
        account = await find_account(session, login)
        stored = account.password_hash if account else None
        account_id = account.id if account else None
    ok = await password_matches_hash(stored or DUMMY_HASH, password) and stored is not None
    async with sessions.begin() as session:
        row = await session.get(AccountRow, account_id, with_for_update=True)
        assert row is not None
        if ok:
            row.failed_logins, row.locked_until = 0, None
            if needs_rehash(stored or ""):
                row.password_hash = HASHER.hash(password)
            _record(session, login, address, now, True, "")
            return row.id
        reason = "wrong password"
        if row.failed_logins >= rules.max_failures:
            row.locked_until, row.failed_logins = now + rules.lockout, 0
            reason += f"; locked until {row.locked_until.isoformat()}"
        _record(session, login, address, now, False, reason)
    return None


async def _barred(
    session: AsyncSession, login: str, address: str, now: datetime, rules: SessionRules
) -> str | None:
    """Why this attempt is refused before any password is checked; None to go on, with
    the attempt already counted against the account (locked row)."""
    recent_failures = await session.scalar(
        select(func.count())
        .select_from(LoginAttemptRow)
        .where(
            LoginAttemptRow.address == address,
            or_(
                LoginAttemptRow.reason.startswith("wrong password"),
                LoginAttemptRow.reason == "no such account",
            ),
            LoginAttemptRow.at > now - rules.lockout,
        )
    )
    if int(recent_failures or 0) >= ADDRESS_FAILURES:
        return "address rate-limited"
    account = await session.scalar(
        select(AccountRow).where(AccountRow.person_id == login).with_for_update()
    )
    if account is None or account.disabled_at is not None or not account.password_hash:
        return "no such account"
    if account.locked_until is not None and account.locked_until > now:
        return "account locked"
    if account.failed_logins >= rules.max_failures:
        account.locked_until, account.failed_logins = now + rules.lockout, 0
        return "account locked"
    account.failed_logins += 1  # reset when the password proves right
    return None


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
    key = await signing_key(session, COOKIE_KEY, now)
    assert key is not None
    return _serializer(key).dumps(secret)


async def session_for_cookie(
    session: AsyncSession, cookie: str | None, *, now: datetime, rules: SessionRules
) -> tuple[WebSessionRow, AccountRow] | None:
    """The live session a cookie names; None if the cookie is missing, forged, or its
    session ended, idled out or expired. Only reads (see `touch_session`)."""
    if not cookie:
        return None
    key = await signing_key(session, COOKIE_KEY, now, create=False)
    if key is None:
        return None
    try:
        secret = _serializer(key).loads(cookie)
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
        return None
    account = await session.get(AccountRow, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    return row, account


def needs_touch(row: WebSessionRow, now: datetime) -> bool:
    return now - row.last_seen_at >= SEEN_EVERY


async def touch_session(session: AsyncSession, session_id: int, now: datetime) -> None:
    """Bring a session's last use up to date (at most once a minute: see SEEN_EVERY)."""
    await session.execute(
        update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=now)
    )


def end_session(row: WebSessionRow, now: datetime) -> None:
    row.ended_at = now


async def forget_old_logins(
    session: AsyncSession, now: datetime, *, keep_days: int
) -> tuple[int, int]:
    """Delete sessions over for a month, or `keep_days` if less (their cookies can never
    work again), and login attempts older than `keep_days` (the record is kept that long,
    no longer). Returns how many of each went."""
    attempts_after = timedelta(days=keep_days)
    sessions_after = min(attempts_after, timedelta(days=30))
    ended = await session.execute(
        delete(WebSessionRow).where(
            or_(
                WebSessionRow.ended_at < now - sessions_after,
                WebSessionRow.expires_at < now - sessions_after,
            )
        )
    )
    attempts = await session.execute(
        delete(LoginAttemptRow).where(LoginAttemptRow.at < now - attempts_after)
    )
    return ended.rowcount or 0, attempts.rowcount or 0
