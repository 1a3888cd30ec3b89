"""Periodic work done once across all processes (a daily check, a shift reminder, an alert
that someone cannot be reached): a row under a unique key, inserted in the same
transaction as the work, so however many dutyd processes try, one does it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class JobRunRow(Base):
    """Periodic work done once across all processes: a daily check, a shift reminder."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "run_key", name="uq_job_runs_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime]


async def claim_run(session: AsyncSession, *, job: str, key: str, now: datetime) -> bool:
    """Record that this run happens; False if some process already did it."""
    try:
        async with session.begin_nested():
            session.add(JobRunRow(job=job, run_key=key, at=now))
    except IntegrityError:
        return False
    return True
