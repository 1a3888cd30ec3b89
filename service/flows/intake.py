"""Machine reports become incident work: each accepted report is mapped by the rules of
its source; a firing alert opens an incident, or counts on the open one of its group
(raising its level if the alert is more severe); a resolved one resolves it where its
rule says so. A storm of one group is one incident, with a count, not a thousand pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy import Row
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import metrics
from service.catalog import Category, Level
from service.errors import DutydError, invalid_from
from service.flows.incidents import report_incident, set_status
from service.incidents import service as incidents
from service.incidents.models import LEVEL_ORDER, IncidentReport, IncidentStatus
from service.intake import reports
from service.intake.checkins import check_in, silent_sources
from service.intake.rules import IntakeRules, Mapped, Unmapped, map_alert
from service.plans.loader import PlanSet
from service.roster.roster import Roster

log = structlog.get_logger(__name__)
# A machine's report reaches the engine within seconds; the learned-at check is for people.
MACHINE_LEARNED_WITHIN = timedelta(days=7)
# After a report failed, batches are worked carefully for this long: a source that keeps
# sending what cannot be worked would otherwise have every batch worked twice.
CAREFUL_FOR = timedelta(seconds=30)
T = TypeVar("T")


class ReportNeedsCare(Exception):
    """A report failed in a batch worked without a savepoint for each report."""


@dataclass
class Care:
    """Until when batches are worked carefully, each report in a savepoint of its own."""

    until: datetime | None = None


async def in_care(
    sessions: async_sessionmaker[AsyncSession],
    care: Care,
    now: datetime,
    body: Callable[[AsyncSession, bool], Awaitable[T]],
) -> T:
    """`body(session, careful)` in a transaction. First fast: a savepoint is two round
    trips more for every new incident, a third of a storm's opening on PostgreSQL. If a
    report fails in it, all of it is rolled back and worked again carefully, so that the
    report fails alone and the rest are worked."""
    if care.until is None or now >= care.until:
        try:
            async with sessions.begin() as session:
                return await body(session, False)
        except ReportNeedsCare as exc:
            log.info("intake.batch_worked_carefully", problem=repr(exc.__cause__))
            care.until = now + CAREFUL_FOR
    async with sessions.begin() as session:
        return await body(session, True)


@asynccontextmanager
async def _isolated(session: AsyncSession, careful: bool) -> AsyncIterator[None]:
    """One report's writes: in a savepoint of its own when careful; else a failure makes
    the batch be worked again carefully."""
    if careful:
        async with session.begin_nested():
            yield
        return
    try:
        yield
    except Exception as exc:
        if _worth_retrying(exc):
            raise
        raise ReportNeedsCare from exc


@dataclass
class IntakeWork:
    """What a round did."""

    opened: int = 0
    counted: int = 0
    raised: int = 0  # of the counted: a more severe alert raised its incident's level
    resolved: int = 0
    ignored: int = 0
    not_worked: list[str] = field(default_factory=list)  # each failed report's source

    def count_committed(self) -> None:
        """Count the failed reports in metrics, once their batch is committed: a batch
        rolled back and tried again would count them again."""
        for source in self.not_worked:
            metrics.MACHINE_REPORTS.labels(source=source, outcome="not_worked").inc()

    @property
    def changed_incidents(self) -> bool:
        """Whether what it did makes work of its own: pages, cancellations, new steps."""
        return bool(self.opened or self.raised or self.resolved)


async def work_reports(
    session: AsyncSession,
    *,
    rules: IntakeRules,
    roster: Roster,
    plans: PlanSet,
    now: datetime,
    worker: str,
    limit: int,
    max_opened: int | None = None,
    careful: bool = True,
) -> tuple[IntakeWork, int]:
    """Work up to `limit` accepted reports in this transaction; (what it did, how many).

    A storm is mostly the same groups again: the batch's open incidents are looked up (and
    locked) in one statement, and what became of each report is written in one at the end.
    At most `max_opened` new incidents a batch: the transaction ends there, so their first
    pages go out before the rest of a storm is worked. Not `careful`: no savepoint for
    each report, and a report that fails raises ReportNeedsCare (see `in_care`)."""
    done = IntakeWork()
    claimed = await reports.claim_accepted(session, limit)
    outcomes = reports.Outcomes(now)
    mapped: list[tuple[Row[Any], Mapped]] = []
    for row in claimed:
        try:
            mapped.append(
                (row, map_alert(rules, row.source, row.labels, row.annotations, row.fingerprint))
            )
        except Unmapped as exc:
            outcomes.add(row.id, "ignored", detail=str(exc))
            done.ignored += 1
    keys = {alert.dedup_key for _, alert in mapped}
    # Each key's lock is held from here to the commit: a key with no open incident has
    # none until this batch opens one.
    open_incidents: dict[str, incidents.OpenIncident | None] = dict.fromkeys(keys)
    open_incidents.update(await incidents.open_duplicate_states(session, keys))
    worked = len(claimed) - len(mapped)
    for row, alert in mapped:
        if max_opened is not None and done.opened >= max_opened:
            break  # the rest stay accepted for the next batch
        worked += 1
        try:
            await _work(
                session,
                row,
                alert,
                plans=plans,
                roster=roster,
                now=now,
                worker=worker,
                done=done,
                open_incidents=open_incidents,
                outcomes=outcomes,
                careful=careful,
            )
        except ReportNeedsCare:
            raise
        except DutydError as exc:  # an unknown unit, no plan: recorded, never lost
            log.warning("intake.report_not_worked", report=row.id, problem=str(exc))
            _not_worked(row, outcomes, done, str(exc))
            # What the savepoint's rollback expired is looked up again, not read stale.
            open_incidents.pop(alert.dedup_key, None)
        except Exception as exc:
            if _worth_retrying(exc):
                raise  # the database's trouble, not the report's: the batch is tried again
            # A report that breaks its work is kept, failed, with the reason; left
            # accepted, it would fail every batch after it and stop all machine intake.
            log.exception("intake.report_crashed", report=row.id)
            _not_worked(row, outcomes, done, f"not worked, internal error: {exc!r}")
            open_incidents.pop(alert.dedup_key, None)
    await outcomes.write(session)
    return done, worked


async def _work(
    session: AsyncSession,
    row: Row[Any],
    mapped: Mapped,
    *,
    plans: PlanSet,
    roster: Roster,
    now: datetime,
    worker: str,
    done: IntakeWork,
    open_incidents: dict[str, incidents.OpenIncident | None],
    outcomes: reports.Outcomes,
    careful: bool,
) -> None:
    """One report's work; what it writes is isolated (`_isolated`), so that a report that
    fails half-way leaves nothing of itself and the batch goes on."""
    key = mapped.dedup_key
    if key not in open_incidents:
        open_incidents[key] = await incidents.open_duplicate(session, key)
    existing = open_incidents[key]
    reporter = f"source:{row.source}"
    if row.status == "resolved":
        if existing is None:
            outcomes.add(row.id, "done", detail="resolved; no open incident")
            return
        if mapped.resolve and existing.status != IncidentStatus.resolved.value:
            async with _isolated(session, careful):
                await set_status(
                    session,
                    roster=roster,
                    plans=plans,
                    incident_id=existing.id,
                    status=IncidentStatus.resolved,
                    note=f"{row.source} reports the alert resolved ({mapped.rule})",
                    actor=reporter,
                    now=now,
                )
            done.resolved += 1
            del open_incidents[key]  # looked up again: what resolving left open, if any
        outcomes.add(row.id, "done", incident_id=existing.id)
        return
    more_severe = existing is not None and (
        LEVEL_ORDER[mapped.level] > LEVEL_ORDER[Level(existing.level)]
    )
    if existing is not None and not more_severe:
        # The same alert again: counted on its incident (reports_per_incident), no page.
        outcomes.add(row.id, "done", incident_id=existing.id)
        done.counted += 1
        return
    try:
        report = IncidentReport(
            category=mapped.category,
            event_type=mapped.event_type,
            level=mapped.level,
            unit=mapped.unit,
            title=mapped.title,
            description=mapped.description,
            source="webhook",
            reporter=reporter,
            learned_at=row.received_at,
            dedup_key=key,
        )
    except ValidationError as exc:  # e.g. a unit label longer than any unit id
        raise invalid_from(exc, f"incident from rule {mapped.rule}") from exc
    async with _isolated(session, careful):
        incident, deduplicated = await report_incident(
            session,
            report,
            roster=roster,
            plans=plans,
            reporter=reporter,
            now=now,
            worker=worker,
            learned_within=MACHINE_LEARNED_WITHIN,
            known_new=existing is None,
        )
    open_incidents[key] = incident  # opened, or the open one raised to this level
    outcomes.add(row.id, "done", incident_id=incident.id)
    if deduplicated:
        done.counted += 1
        done.raised += 1
    else:
        done.opened += 1


def _not_worked(row: Row[Any], outcomes: reports.Outcomes, done: IntakeWork, why: str) -> None:
    outcomes.add(row.id, "failed", detail=why)
    done.not_worked.append(row.source)
    done.ignored += 1


def _worth_retrying(exc: Exception) -> bool:
    """Whether the batch should be tried again: the database failed (a lost connection, a
    deadlock), rather than this report's data breaking a rule of its schema, or a statement
    that could not even be made of it (tried again, either would fail every time)."""
    if isinstance(exc, DataError | IntegrityError):
        return False
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return False  # raised before the database saw it: a value, a lazy load
    return isinstance(exc, SQLAlchemyError)


async def watch_heartbeats(
    session: AsyncSession,
    *,
    rules: IntakeRules,
    roster: Roster,
    plans: PlanSet,
    now: datetime,
    worker: str,
) -> int:
    """A heartbeat source silent past its interval opens an incident for its duty office."""
    opened = 0
    for row in await silent_sources(session, rules, now):
        source = rules.sources[row.source]
        assert source.unit is not None and source.every_minutes is not None
        silent_for = int((now - row.last_at).total_seconds() // 60)
        report = IncidentReport(
            category=Category.accident_disaster,
            event_type="infrastructure",
            level=Level.IV,
            unit=source.unit,
            title=f"{row.source} 未按时报到（已{silent_for}分钟）",
            description=(
                f"{row.source} should check in every {source.every_minutes} min; "
                f"last at {row.last_at.isoformat(timespec='seconds')}"
            ),
            source="automated",
            reporter=f"source:{row.source}",
            learned_at=now,
            dedup_key=f"heartbeat:{row.source}",
        )
        try:
            async with session.begin_nested():
                incident, _ = await report_incident(
                    session,
                    report,
                    roster=roster,
                    plans=plans,
                    reporter=f"source:{row.source}",
                    now=now,
                    worker=worker,
                )
        except DutydError as exc:  # no plan covers its unit now: tried again next pass
            log.warning("intake.silence_not_reported", source=row.source, problem=str(exc))
            continue
        except Exception as exc:
            if _worth_retrying(exc):
                raise
            # Tried again next pass; meanwhile the round's machine reports are worked.
            log.exception("intake.silence_report_crashed", source=row.source)
            continue
        row.silent_incident_id = incident.id
        opened += 1
    return opened


async def heartbeat(
    session: AsyncSession, source: str, *, roster: Roster, plans: PlanSet, now: datetime
) -> bool:
    """A check-in: recorded; if the source's silence had opened an incident, its return
    resolves it. True if it did."""
    row = await check_in(session, source, now)
    if row.silent_incident_id is None:
        return False
    incident = await incidents.lock_incident(session, row.silent_incident_id)
    row.silent_incident_id = None
    if IncidentStatus(incident.status) in (IncidentStatus.resolved, IncidentStatus.closed):
        return False
    await set_status(
        session,
        roster=roster,
        plans=plans,
        incident_id=incident.id,
        status=IncidentStatus.resolved,
        note=f"{source} checked in again",
        actor=f"source:{source}",
        now=now,
    )
    return True


async def confirm_mail(
    session: AsyncSession,
    report_id: int,
    report: IncidentReport,
    *,
    roster: Roster,
    plans: PlanSet,
    actor: str,
    now: datetime,
    worker: str,
) -> int:
    """The officer confirms a mail draft as an incident (with what they corrected); the
    mail's attachments go with it. The incident's id."""
    row = await reports.lock_draft(session, report_id)
    attachments = [f"sha256:{a['sha256']} {a['filename']}" for a in row.annotations["attachments"]]
    report = report.model_copy(update={"attachments": [*report.attachments, *attachments]})
    incident, _ = await report_incident(
        session, report, roster=roster, plans=plans, reporter=actor, now=now, worker=worker
    )
    reports.mark(row, "done", now, detail=f"confirmed by {actor}", incident_id=incident.id)
    return incident.id


async def dismiss_mail(
    session: AsyncSession, report_id: int, *, actor: str, reason: str, now: datetime
) -> None:
    row = await reports.lock_draft(session, report_id)
    reports.mark(row, "dismissed", now, detail=f"dismissed by {actor}: {reason}")
