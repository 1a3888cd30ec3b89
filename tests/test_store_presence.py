"""A database that is gone, replaced or cannot commit is noticed: readiness says so, a
request says so (503, nothing stored), and a restart does not quietly start empty."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.auth.tokens import Role
from service.clock import FrozenClock
from service.errors import StoreUnavailable
from tests.api_helpers import api_client
from tests.cli_helpers import run_cli
from tests.engine_helpers import start_dutyd

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


def errors_so_far() -> float:
    return REGISTRY.get_sample_value("dutyd_store_errors_total") or 0.0


async def test_a_deleted_sqlite_database_is_noticed_and_not_recreated(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Deleting the file under a running daemon makes it unready; restarting refuses to
    create an empty one in its place until `dutyd db init --new`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'dutyd.db'}"
    dutyd, _ = await start_dutyd(tmp_path, url, clock)
    try:
        assert await dutyd.ready() is None
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / "data" / f"dutyd.db{suffix}").unlink(missing_ok=True)
        before = errors_so_far()
        problem = await dutyd.ready()
        assert problem is not None and "deleted or replaced" in problem
        assert errors_so_far() == before + 1
        client = await api_client(dutyd, Role.admin, name="probe")
        answer = await client.get("/readyz")
        assert answer.status_code == 503 and "deleted or replaced" in answer.json()["reason"]
        await client.aclose()
    finally:
        await dutyd.stop()
    with pytest.raises(StoreUnavailable, match="missing or empty"):
        await start_dutyd(tmp_path, url, clock)
    assert not (tmp_path / "data" / "dutyd.db").exists()


async def test_db_init_new_creates_an_empty_database_on_purpose(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """The CLI refuses to work on a lost database, and `db init --new` makes a new one."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'dutyd.db'}"
    dutyd, _ = await start_dutyd(tmp_path, url, clock)
    await dutyd.stop()
    (tmp_path / "data" / "dutyd.db").unlink()
    listing = run_cli(tmp_path, "incident", "list")
    assert listing.returncode == 2 and "dutyd db init --new" in listing.stderr
    assert not (tmp_path / "data" / "dutyd.db").exists()
    assert run_cli(tmp_path, "db", "init").returncode == 2
    created = run_cli(tmp_path, "db", "init", "--new")
    assert created.returncode == 0, created.stderr
    assert run_cli(tmp_path, "incident", "list").returncode == 0


async def _make_read_only(dutyd_db: object, database_url: str) -> None:
    """Writes fail from now on, as on a read-only disk or a standby server."""
    if make_url(database_url).get_backend_name() == "sqlite":
        engine = dutyd_db  # one write connection: it refuses every write from now on
        async with engine.connect() as connection:  # type: ignore[attr-defined]
            await connection.execute(text("PRAGMA query_only = ON"))
            await connection.commit()
        return
    name = make_url(database_url).database
    admin = await asyncpg.connect(
        make_url(database_url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    finally:
        await admin.close()
    await dutyd_db.dispose()  # type: ignore[attr-defined]  # new connections read only


async def test_readiness_means_the_database_can_commit(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """When writes fail, /readyz is 503 saying why, a POST is 503 saying nothing was
    stored (not a bare 500), and both are counted."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        client = await api_client(dutyd, Role.duty_officer)
        assert (await client.get("/readyz")).status_code == 200
        await _make_read_only(dutyd.db, database_url)
        before = errors_so_far()
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "cannot commit" in ready.json()["reason"]
        posted = await client.post("/api/v1/incidents", json=FLOOD)
        assert posted.status_code == 503 and "nothing was stored" in posted.text
        assert errors_so_far() >= before + 2
        await client.aclose()
    finally:
        await dutyd.stop()
