"""Plan versions kept in the database, so an incident runs under the plan it started with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.plans.loader import PlanSet
from service.plans.models import LoadedPlan, ResolvedPlan
from service.plans.tables import PlanVersionRow

# Versions are immutable (keyed by the digest of their content), so caching is safe.
_parsed: dict[str, ResolvedPlan] = {}


async def remember_version(session: AsyncSession, loaded: LoadedPlan, now: datetime) -> None:
    if await session.get(PlanVersionRow, loaded.digest) is None:
        session.add(
            PlanVersionRow(
                digest=loaded.digest,
                plan_id=loaded.plan.id,
                source_file=loaded.source_file,
                content=loaded.content,
                first_used_at=now,
            )
        )
        await session.flush()
    _parsed.setdefault(loaded.digest, loaded.plan)


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
