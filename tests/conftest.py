"""Shared fixtures: settings on a temporary data directory, databases, fake providers, and
the started daemon (`daemon`, `dutyd`) on each database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from service.app import Dutyd
from service.clock import FrozenClock
from service.config import Settings
from tests.fakes.recording import RecordingTransport
from tests.fakes.smtp import SmtpServer
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "DUTYD_TEST_POSTGRES_URL"
# 2026-07-15 10:00 in Asia/Shanghai: a weekday morning shift.
T0 = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer settings file or DUTYD_* variable leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DUTYD_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DUTYD_CONFIG", str(tmp_path / "no-such-settings.yaml"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "roster_file": REPO / "config" / "roster.yaml",
        "plans_dir": REPO / "plans",
        "warnings_file": REPO / "config" / "warnings.yaml",
        "intake_file": REPO / "config" / "intake.yaml",
        "worker_name": "test-worker",
    }
    values.update(overrides)
    return Settings(**values)


def postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {POSTGRES_ENV} is not: PostgreSQL tests must run in CI")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}; scripts/test sets it")
    return url


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = postgres_admin_url()
    assert admin is not None
    name = f"dutyd_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each engine test runs on the embedded default and on the production store."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'dutyd.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def provider_settings(fake_twilio: FakeTwilio, smtp_server: SmtpServer) -> dict[str, Any]:
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": FROM_NUMBER,
        "twilio_api_base_url": fake_twilio.url,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
        "smtp_from": "dutyd@linjiang.example.gov.cn",
    }


class Daemon(NamedTuple):
    """A started daemon and the transport it sends through: a RecordingTransport, or None
    when `daemon_settings` configures real providers."""

    dutyd: Dutyd
    transport: RecordingTransport | None


PROVIDER_KEYS = frozenset({"twilio_account_sid", "smtp_host"})


@pytest.fixture
def daemon_settings() -> dict[str, Any]:
    """Settings overrides for `daemon`; a test module overrides this fixture to change them.
    With providers in them (`provider_settings(fake_twilio, smtp_server)`) the daemon sends
    through the real Twilio and SMTP transports instead of recording."""
    return {}


@pytest.fixture
async def daemon(
    tmp_path: Path, database_url: str, clock: FrozenClock, daemon_settings: dict[str, Any]
) -> AsyncIterator[Daemon]:
    """The one started daemon of the suite, on each database `database_url` gives."""
    from tests.engine_helpers import start_dutyd  # engine_helpers imports this module

    record = not PROVIDER_KEYS & daemon_settings.keys()
    dutyd, transport = await start_dutyd(
        tmp_path, database_url, clock, record=record, **daemon_settings
    )
    try:
        yield Daemon(dutyd, transport if record else None)
    finally:
        await dutyd.stop()


@pytest.fixture
def dutyd(daemon: Daemon) -> Dutyd:
    return daemon.dutyd
