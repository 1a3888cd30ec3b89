"""Is the database there, and can it commit?

A deleted database must not go unnoticed. When dutyd first creates a database it notes
that in `data_dir/databases.json`; a database noted there and now missing (or empty) is
not silently created anew, which would lose every incident and token: the start is
refused until it is restored or `dutyd db init --new` makes an empty one on purpose.
While running, readiness means "can commit": a heartbeat row is written, and on SQLite
the file must still be the one that was opened (not deleted or replaced underneath).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import String, inspect, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from service.errors import StoreUnavailable
from service.store import migrate
from service.store.base import Base
from service.store.database import create_engine

log = structlog.get_logger(__name__)

MARKER = "databases.json"


class HeartbeatRow(Base):
    """Each process's last commit of its readiness check."""

    __tablename__ = "process_heartbeats"

    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime]


def _key(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def _known(data_dir: Path) -> dict[str, str]:
    try:
        return dict(json.loads((data_dir / MARKER).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def sqlite_missing(url: str) -> bool:
    """The SQLite file a URL names does not exist or is empty (about to be created)."""
    path = sqlite_file(url)
    return path is not None and (not path.exists() or path.stat().st_size == 0)


async def schema_missing(engine: AsyncEngine) -> bool:
    """The database has no dutyd schema at all (never migrated)."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return "alembic_version" not in tables


def refuse_if_lost(url: str, data_dir: Path, *, missing: bool, create: bool) -> None:
    """Raise StoreUnavailable if a database dutyd created is missing now (unless `create`)."""
    created = _known(data_dir).get(_key(url))
    if missing and created and not create:
        raise StoreUnavailable(
            f"the database {_key(url)} (created {created}) is missing or empty; restore it "
            "from a backup, or run `dutyd db init --new` to start an empty one on purpose"
        )


def note_created(url: str, data_dir: Path, now: datetime) -> None:
    """Remember that this database exists, so that losing it is noticed."""
    known = _known(data_dir)
    if _key(url) in known:
        return
    known[_key(url)] = now.isoformat()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / MARKER).write_text(json.dumps(known, indent=1), encoding="utf-8")
    except OSError as exc:
        log.warning("store.cannot_note_database", path=str(data_dir / MARKER), error=str(exc))


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return cls(stat.st_dev, stat.st_ino)


async def beat(session: AsyncSession, worker: str, now: datetime) -> None:
    """Commit proof that this process can write: its heartbeat row, written every time
    (an UPDATE even when the time is unchanged, so the database must take a write)."""
    updated = await session.execute(
        update(HeartbeatRow).where(HeartbeatRow.worker == worker).values(at=now)
    )
    if not updated.rowcount:
        session.add(HeartbeatRow(worker=worker, at=now))


@dataclass(frozen=True)
class OpenedDatabase:
    engine: AsyncEngine
    # SQLite: the file and its identity when opened, to notice it deleted or replaced.
    file: tuple[Path, FileIdentity | None] | None


async def open_database(
    url: str, data_dir: Path, *, now: datetime, create: bool = False
) -> OpenedDatabase:
    """Connect and migrate; a database this data directory knows dutyd created, and which
    is now missing, is refused (StoreUnavailable) rather than created anew, unless
    `create` (`dutyd db init --new`)."""
    missing = sqlite_missing(url)
    refuse_if_lost(url, data_dir, missing=missing, create=create)
    engine = create_engine(url)
    path = sqlite_file(url)
    if path is None:
        try:
            refuse_if_lost(url, data_dir, missing=await schema_missing(engine), create=create)
        except StoreUnavailable:
            await engine.dispose()
            raise
    await migrate.upgrade(engine)
    note_created(url, data_dir, now)
    return OpenedDatabase(engine, (path, FileIdentity.of(path)) if path else None)


async def commit_problem(
    sessions: async_sessionmaker[AsyncSession],
    opened: OpenedDatabase,
    *,
    worker: str,
    now: datetime,
) -> str | None:
    """None if a commit goes through to the database that was opened, else why not."""
    if opened.file is not None:
        path, identity = opened.file
        if FileIdentity.of(path) != identity:
            return f"the database file {path} was deleted or replaced"
    try:
        async with sessions.begin() as session:
            await beat(session, worker, now)
    except Exception as exc:  # whatever the driver says, the answer is "no"
        return f"the database cannot commit: {str(exc).splitlines()[0]}"
    return None
