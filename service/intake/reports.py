"""The intake subject's rows: machine reports made from what a source sent, claimed by
the engine, marked with what became of them; counts per incident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.intake.models import AmNotification
from service.intake.tables import ACCEPTED, MachineReportRow
from service.store.bulk import among
from service.store.database import is_postgres


def rows_from_alertmanager(
    source: str, notification: AmNotification, now: datetime
) -> list[dict[str, Any]]:
    """One row per alert. Alertmanager sends an alert again while it fires: each time is a
    report (counted on its incident), not a new incident."""
    return [
        {
            "source": source,
            "received_at": now,
            "status": alert.status,
            "fingerprint": alert.fingerprint,
            "idempotency_key": None,
            "labels": alert.labels,
            "annotations": {**notification.commonAnnotations, **alert.annotations},
            "state": ACCEPTED,
            "incident_id": None,
            "detail": "",
            "worked_at": None,
        }
        for alert in notification.alerts
    ]


REPORTS = MachineReportRow.__table__
CLAIMED = (
    REPORTS.c.id,
    REPORTS.c.source,
    REPORTS.c.status,
    REPORTS.c.fingerprint,
    REPORTS.c.labels,
    REPORTS.c.annotations,
    REPORTS.c.received_at,
)
# Built once: a storm's engine runs these many times a second, and a Core statement on the
# session's connection skips the ORM's compile and load steps (the rows are columns).
_ACCEPTED = select(*CLAIMED).where(REPORTS.c.state == ACCEPTED).order_by(REPORTS.c.id)
_CLAIM = {
    "sqlite": _ACCEPTED.limit(bindparam("limit")),
    "postgresql": _ACCEPTED.limit(bindparam("limit")).with_for_update(skip_locked=True),
}
_MARK = (
    update(REPORTS)
    .where(REPORTS.c.id == bindparam("report_id"))
    .values(
        state=bindparam("state"),
        detail=bindparam("detail"),
        incident_id=bindparam("incident_id"),
        worked_at=bindparam("worked_at"),
    )
)


async def claim_accepted(session: AsyncSession, limit: int) -> Sequence[Row[Any]]:
    """The oldest reports not yet worked, locked for this process (others skip them): the
    columns the mapping rules read, not ORM objects (a storm's reports are many)."""
    connection = await session.connection()
    return (await connection.execute(_CLAIM[connection.dialect.name], {"limit": limit})).all()


@dataclass
class Outcomes:
    """What became of each claimed report, written in one statement at the end of the
    batch rather than one UPDATE (and one flush) per report."""

    now: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, report_id: int, state: str, *, detail: str = "", incident_id: int | None = None
    ) -> None:
        outcome = outcome_values(state, self.now, detail=detail, incident_id=incident_id)
        self.rows.append({"report_id": report_id, **outcome})

    async def write(self, session: AsyncSession) -> None:
        if self.rows:  # one executemany
            await (await session.connection()).execute(_MARK, self.rows)


def outcome_values(
    state: str, now: datetime, *, detail: str = "", incident_id: int | None = None
) -> dict[str, Any]:
    """The columns that say what became of a report."""
    return {"state": state, "detail": detail[:2000], "incident_id": incident_id, "worked_at": now}


def mark(
    row: MachineReportRow,
    state: str,
    now: datetime,
    *,
    detail: str = "",
    incident_id: int | None = None,
) -> None:
    for column, value in outcome_values(state, now, detail=detail, incident_id=incident_id).items():
        setattr(row, column, value)


async def reports_per_incident(
    session: AsyncSession, incident_ids: list[int]
) -> dict[int, tuple[int, datetime]]:
    """How many machine reports each incident has had, and the last one's time."""
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(
            MachineReportRow.incident_id,
            func.count(),
            func.max(MachineReportRow.received_at),
        )
        .where(among(session, MachineReportRow.incident_id, incident_ids))
        .group_by(MachineReportRow.incident_id)
    )
    return {i: (n, last) for i, n, last in rows if i is not None}


async def has_accepted(session: AsyncSession) -> bool:
    return (
        await session.scalar(
            select(MachineReportRow.id).where(MachineReportRow.state == ACCEPTED).limit(1)
        )
    ) is not None


async def mail_drafts(session: AsyncSession, limit: int) -> list[MachineReportRow]:
    """Mail waiting for an officer to confirm or dismiss it, the oldest first."""
    return list(
        await session.scalars(
            select(MachineReportRow)
            .where(MachineReportRow.state == "draft")
            .order_by(MachineReportRow.id)
            .limit(limit)
        )
    )


async def lock_draft(session: AsyncSession, report_id: int) -> MachineReportRow:
    from service.errors import Conflict, NotFound

    query = select(MachineReportRow).where(MachineReportRow.id == report_id)
    if is_postgres(session):
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None or row.status != "mail":
        raise NotFound("mail draft", report_id)
    if row.state != "draft":
        raise Conflict(f"mail draft {report_id} is already {row.state}")
    return row
