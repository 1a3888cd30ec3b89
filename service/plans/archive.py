"""Plan versions kept in the database, so an incident runs under the plan it started with."""

from __future__ import annotations

import weakref
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service.plans.loader import PlanSet
from service.plans.models import LoadedPlan, ResolvedPlan
from service.plans.tables import PlanVersionRow

# Versions are immutable (keyed by the digest of their content), so caching is safe.
_parsed: dict[str, ResolvedPlan] = {}
# Digests known to be stored in each database (by engine): no lookup for every incident.
_stored: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_COMMITTING = "plan_versions_added"


async def remember_version(session: AsyncSession, loaded: LoadedPlan, now: datetime) -> None:
    _parsed.setdefault(loaded.digest, loaded.plan)
    bind = session.get_bind()
    stored = _stored.setdefault(bind, set()) if isinstance(bind, Engine) else set()
    if loaded.digest in stored:
        return
    if await session.get(PlanVersionRow, loaded.digest) is not None:
        stored.add(loaded.digest)
        return
    # Two first reports under a new version may race to archive it: the second does nothing.
    dialect_insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        dialect_insert(PlanVersionRow)
        .values(
            digest=loaded.digest,
            plan_id=loaded.plan.id,
            source_file=loaded.source_file,
            content=loaded.content,
            first_used_at=now,
        )
        .on_conflict_do_nothing(index_elements=["digest"])
    )
    # Others may skip the lookup only once this row is committed (a rollback undoes it).
    session.sync_session.info.setdefault(_COMMITTING, set()).add(loaded.digest)


@event.listens_for(Session, "after_commit")
def _versions_committed(session: Session) -> None:
    digests = session.info.pop(_COMMITTING, None)
    bind = session.get_bind() if digests else None
    if isinstance(bind, Engine):
        _stored.setdefault(bind, set()).update(digests)


@event.listens_for(Session, "after_rollback")
def _versions_rolled_back(session: Session) -> None:
    session.info.pop(_COMMITTING, None)


async def plan_by_digest(session: AsyncSession, digest: str, current: PlanSet) -> ResolvedPlan:
    """The plan with exactly that content: from the loaded set if unchanged, else the archive."""
    if digest in _parsed:
        return _parsed[digest]
    for loaded in current.plans:
        if loaded.digest == digest:
            _parsed[digest] = loaded.plan
            return loaded.plan
    row = await session.get(PlanVersionRow, digest)
    if row is None:
        raise LookupError(f"plan version {digest} is not in the archive")
    plan = ResolvedPlan.model_validate_json(row.content)
    _parsed[digest] = plan
    return plan
