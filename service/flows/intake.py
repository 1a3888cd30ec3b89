"""Machine reports become incident work: each accepted report is mapped by the rules of
its source; a firing alert opens an incident, or counts on the open one of its group
(raising its level if the alert is more severe); a resolved one resolves it where its
rule says so. A storm of one group is one incident, with a count, not a thousand pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Level
from service.errors import DutydError
from service.flows.incidents import report_incident, set_status
from service.incidents import service as incidents
from service.incidents.models import LEVEL_ORDER, IncidentReport, IncidentStatus
from service.intake import reports
from service.intake.rules import IntakeRules, Unmapped, map_alert
from service.intake.tables import MachineReportRow
from service.plans.loader import PlanSet
from service.roster.roster import Roster

log = structlog.get_logger(__name__)
# A machine's report reaches the engine within seconds; the learned-at check is for people.
MACHINE_LEARNED_WITHIN = timedelta(days=7)


@dataclass
class IntakeWork:
    """What a round did."""

    opened: int = 0
    counted: int = 0
    resolved: int = 0
    ignored: int = 0


async def work_reports(
    session: AsyncSession,
    *,
    rules: IntakeRules,
    roster: Roster,
    plans: PlanSet,
    now: datetime,
    worker: str,
    limit: int,
) -> tuple[IntakeWork, int]:
    """Work up to `limit` accepted reports in this transaction; (what it did, how many)."""
    done = IntakeWork()
    rows = await reports.claim_accepted(session, limit)
    for row in rows:
        try:
            await _work(session, row, rules, roster, plans, now, worker, done)
        except Unmapped as exc:
            reports.mark(row, "ignored", now, detail=str(exc))
            done.ignored += 1
        except DutydError as exc:  # an unknown unit, no plan: recorded, never lost
            log.warning("intake.report_not_worked", report=row.id, problem=str(exc))
            reports.mark(row, "failed", now, detail=str(exc))
            done.ignored += 1
    return done, len(rows)


async def _work(
    session: AsyncSession,
    row: MachineReportRow,
    rules: IntakeRules,
    roster: Roster,
    plans: PlanSet,
    now: datetime,
    worker: str,
    done: IntakeWork,
) -> None:
    mapped = map_alert(rules, row.source, row.labels, row.annotations, row.fingerprint)
    existing = await incidents.open_duplicate(session, mapped.dedup_key)
    reporter = f"source:{row.source}"
    if row.status == "resolved":
        if existing is None:
            reports.mark(row, "done", now, detail="resolved; no open incident")
            return
        if mapped.resolve and existing.status != IncidentStatus.resolved.value:
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
        reports.mark(row, "done", now, incident_id=existing.id)
        return
    more_severe = existing is not None and (
        LEVEL_ORDER[mapped.level] > LEVEL_ORDER[Level(existing.level)]
    )
    if existing is not None and not more_severe:
        # The same alert again: counted on its incident (reports_per_incident), no page.
        reports.mark(row, "done", now, incident_id=existing.id)
        done.counted += 1
        return
    incident, deduplicated = await report_incident(
        session,
        IncidentReport(
            category=mapped.category,
            event_type=mapped.event_type,
            level=mapped.level,
            unit=mapped.unit,
            title=mapped.title,
            description=mapped.description,
            source="webhook",
            reporter=reporter,
            learned_at=row.received_at,
            dedup_key=mapped.dedup_key,
        ),
        roster=roster,
        plans=plans,
        reporter=reporter,
        now=now,
        worker=worker,
        learned_within=MACHINE_LEARNED_WITHIN,
    )
    reports.mark(row, "done", now, incident_id=incident.id)
    if deduplicated:
        done.counted += 1
    else:
        done.opened += 1
