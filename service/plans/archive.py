"""Plan versions kept in the database, so an incident runs under the plan it started with."""

from __future__ import annotations

import weakref
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service.plans.loader import PlanSet
from service.plans.models import LoadedPlan, ResolvedPlan
from service.plans.tables import PlanSetRow, PlanVersionRow

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
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction around it may still roll back
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


async def remember_plan_set(session: AsyncSession, plans: PlanSet, now: datetime) -> None:
    """Archive every plan of a set that loaded and was put in force, and the set itself."""
    for loaded in plans.plans:
        await remember_version(session, loaded, now)
    if await session.scalar(select(PlanSetRow.id).where(PlanSetRow.digest == plans.digest)):
        return
    dialect_insert = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    await session.execute(
        dialect_insert(PlanSetRow)
        .values(
            digest=plans.digest,
            plan_digests=[loaded.digest for loaded in plans.plans],
            loaded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["digest"])
    )


async def last_good_plan_set(session: AsyncSession) -> PlanSet | None:
    """The newest plan set that loaded and was put in force, from the archive."""
    row = await session.scalar(
        select(PlanSetRow).order_by(PlanSetRow.loaded_at.desc(), PlanSetRow.id.desc()).limit(1)
    )
    if row is None:
        return None
    versions = {
        version.digest: version
        for version in await session.scalars(
            select(PlanVersionRow).where(PlanVersionRow.digest.in_(row.plan_digests))
        )
    }
    loaded = []
    for digest in row.plan_digests:
        version = versions.get(digest)
        if version is None:
            return None  # an incomplete set is no set to run on
        plan = ResolvedPlan.model_validate_json(version.content)
        loaded.append(
            LoadedPlan(
                plan=plan,
                source_file=version.source_file,
                digest=digest,
                content=version.content,
            )
        )
    return PlanSet(tuple(loaded))
