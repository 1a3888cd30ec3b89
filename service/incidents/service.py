"""Incidents' own rows: logging one, its status (only through the state machine in
`models.TRANSITIONS`), and reading them back; its level, category and plan change in
`incidents.attributes`. Each function runs in the caller's transaction; what other
subjects do about it is `flows.incidents`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import EVENT_TYPES, Level
from service.durations import format_duration
from service.errors import InvalidInput, NotFound, UnknownValue
from service.incidents.models import (
    ACK_EXPIRY,
    OPEN_STATUSES,
    TRANSITIONS,
    IncidentReport,
    IncidentStatus,
    Intake,
)
from service.incidents.tables import IncidentRow, SilenceRow, remember_drill
from service.incidents.timeline import add_entry
from service.plans.models import ResolvedPlan
from service.roster.roster import Roster
from service.store.bulk import among_named
from service.store.database import is_postgres

LEARNED_WITHIN = timedelta(days=7)


def check_report(
    roster: Roster,
    report: IncidentReport,
    *,
    now: datetime,
    learned_within: timedelta = LEARNED_WITHIN,
) -> datetime:
    """Refuse a report naming things that do not exist, or learned of at an implausible
    time, before anything is stored; the instant the office learned of it.

    Deadlines run from `learned_at`: a mistyped year would make every report late at once
    and page people for each one, so a time long ago, or before the event, needs
    `confirm_learned_at`."""
    if report.unit not in roster.units:
        raise UnknownValue("unit", report.unit, sorted(roster.units))
    if report.event_type not in EVENT_TYPES[report.category]:
        raise UnknownValue("event_type", report.event_type, list(EVENT_TYPES[report.category]))
    learned_at = report.learned_at or now
    if learned_at > now:
        raise InvalidInput("learned_at lies in the future", field="learned_at")
    if not report.confirm_learned_at:
        if learned_at < now - learned_within:
            raise InvalidInput(
                f"learned_at is more than {format_duration(learned_within)} ago; deadlines run "
                "from it, so every report would be late at once: correct it, or confirm it "
                "with confirm_learned_at",
                field="learned_at",
            )
        if report.occurred_at is not None and learned_at < report.occurred_at:
            raise InvalidInput(
                "learned_at lies before occurred_at: correct it, or confirm it with "
                "confirm_learned_at",
                field="learned_at",
            )
    return learned_at


async def lock_incident(session: AsyncSession, incident_id: int) -> IncidentRow:
    incident = await session.scalar(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    )
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


async def open_duplicate(session: AsyncSession, dedup_key: str) -> IncidentRow | None:
    """The open incident with this dedup key (locked), if any."""
    return (await open_duplicates(session, [dedup_key])).get(dedup_key)


def _open_with_keys(dialect: str, *what: Any) -> Select[Any]:
    """`what` of the open incidents whose dedup key is among parameter `keys`, oldest
    first, locked: built once per dialect."""
    return (
        select(*what)
        .where(
            among_named(IncidentRow.dedup_key, "keys", dialect),
            IncidentRow.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(IncidentRow.id)
        .with_for_update()
    )


DIALECTS = ("sqlite", "postgresql")
_OPEN_INCIDENTS = {dialect: _open_with_keys(dialect, IncidentRow) for dialect in DIALECTS}
_OPEN_STATES = {
    dialect: _open_with_keys(
        dialect, IncidentRow.id, IncidentRow.dedup_key, IncidentRow.status, IncidentRow.level
    )
    for dialect in DIALECTS
}
OpenIncident = Row[Any] | IncidentRow  # what a caller reads: .id, .status, .level

# On PostgreSQL, FOR UPDATE locks only incidents that exist: two transactions looking for
# the open incident of a key not yet opened would both find none and both open one (two
# processes' engines in a storm; API requests at once). Each first takes a lock on the key
# itself, until it commits, so the second looks once the first's incident is there. The
# keys are taken in one order, so two transactions never wait on each other in a circle.
# (SQLite has one writer at a time: its transactions never overlap.)
DEDUP_KEY_LOCKS = 16016  # the first of pg_advisory_xact_lock's two keys: these locks
_LOCK_KEYS = text(
    f"SELECT pg_advisory_xact_lock({DEDUP_KEY_LOCKS}, hashtext(key)) "
    "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS taken(key, n) ORDER BY n"
)


async def _lock_keys(session: AsyncSession, dedup_keys: Collection[str]) -> None:
    if is_postgres(session):
        await session.execute(_LOCK_KEYS, {"keys": sorted(set(dedup_keys))})


async def open_duplicate_states(
    session: AsyncSession, dedup_keys: Collection[str]
) -> dict[str, OpenIncident]:
    """As `open_duplicates`, but only each incident's id, status and level, as columns (no
    incident loaded): a storm's batch only counts its alerts on them."""
    if not dedup_keys:
        return {}
    await _lock_keys(session, dedup_keys)
    connection = await session.connection()
    statement = _OPEN_STATES[connection.dialect.name]
    found: dict[str, OpenIncident] = {}
    for row in await connection.execute(statement, {"keys": list(dedup_keys)}):
        found.setdefault(row.dedup_key, row)
    return found


async def open_duplicates(
    session: AsyncSession, dedup_keys: Collection[str]
) -> dict[str, IncidentRow]:
    """The open incident of each of these dedup keys (locked, the oldest where a key has
    several), in one statement: a storm's batch asks for a few dozen keys at once."""
    if not dedup_keys:
        return {}
    await _lock_keys(session, dedup_keys)
    dialect = "postgresql" if is_postgres(session) else "sqlite"
    rows = await session.scalars(_OPEN_INCIDENTS[dialect], {"keys": list(dedup_keys)})
    found: dict[str, IncidentRow] = {}
    for row in rows:
        assert row.dedup_key is not None
        found.setdefault(row.dedup_key, row)
    return found


async def log_incident(
    session: AsyncSession,
    report: IncidentReport,
    *,
    plan: ResolvedPlan,
    plan_reason: str,
    learned_at: datetime,
    silence: SilenceRow | None,
    reporter: str,
    now: datetime,
    plan_grounds: dict[str, Any] | None = None,
    drill_id: int | None = None,
) -> IncidentRow:
    """Store a new incident under `plan`, with its first timeline entries; `plan_grounds`
    are the facts of `plan_reason` (`selection.Choice.grounds`)."""
    incident = IncidentRow(
        category=report.category.value,
        event_type=report.event_type,
        level=report.level.value,
        unit_id=report.unit,
        title=report.title,
        description=report.description,
        location=report.location,
        latitude=report.latitude,
        longitude=report.longitude,
        casualties=report.casualties.model_dump(),
        losses=report.losses,
        **intake_columns(report.intake),
        attachments=list(report.attachments),
        dedup_key=report.dedup_key,
        silence_id=silence.id if silence else None,
        source=report.source,
        reporter=report.reporter or reporter,
        status=IncidentStatus.reported.value,
        occurred_at=report.occurred_at,
        learned_at=learned_at,
        created_at=now,
        plan_id=plan.plan.id,
        plan_version=plan.digest,
        drill_id=drill_id,
    )
    session.add(incident)
    await session.flush()
    remember_drill(session.sync_session, incident)
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="reported",
        actor=reporter,
        summary=f"reported ({report.source}): level {report.level.value} "
        f"{report.category.value}/{report.event_type} in {report.unit}: {report.title}",
        data={
            "source": report.source,
            "level": report.level.value,
            "category": report.category.value,
            "event_type": report.event_type,
            "unit": report.unit,
            "title": report.title,
        },
    )
    plan_data: dict[str, Any] = {"plan": plan.plan.id, "version": plan.digest}
    if plan_grounds is not None:
        plan_data |= {"title": plan.plan.title, "grounds": plan_grounds}
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="plan_selected",
        summary=plan_reason,
        data=plan_data,
    )
    if silence is not None:
        add_entry(
            session,
            incident_id=incident.id,
            at=now,
            kind="silenced",
            summary=f"silenced by {silence.created_by} until "
            f"{silence.ends_at.isoformat()}: {silence.reason}; nobody is paged",
            data={
                "silence": silence.id,
                "by": silence.created_by,
                "until": silence.ends_at.isoformat(),
                "reason": silence.reason,
            },
        )
    return incident


def intake_columns(intake: Intake) -> dict[str, str]:
    values = intake.model_dump()
    values["received_via"] = intake.received_via.value if intake.received_via else ""
    return values


def note_level_from_figures(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    reported: Level,
    reason: str,
    now: datetime,
    figures: dict[str, Any] | None = None,
) -> None:
    """The incident was logged above the level reported, as its plan's casualty
    thresholds say; `figures` are the facts of `reason` (`ImpliedLevel.facts`)."""
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="level_changed",
        summary=f"logged at level {incident.level}, not the level {reported.value} reported: "
        f"casualty figures: {reason}",
        data={
            "from": reported.value,
            "to": incident.level,
            "reason": reason,
            "cause": "figures_at_logging",
            **(figures or {}),
        },
    )


def merge_repeat(
    session: AsyncSession,
    incident: IncidentRow,
    report: IncidentReport,
    *,
    roster: Roster,
    reporter: str,
    now: datetime,
) -> list[str]:
    """A repeated report (same dedup key) adds what is new to the open incident; what
    it changed."""
    changes = []
    if report.description and report.description not in incident.description:
        stamp = now.astimezone(roster.unit(incident.unit_id).zone).strftime("%m-%d %H:%M")
        incident.description = f"{incident.description}\n[{stamp}] {report.description}".strip()
        changes.append("description")
    counts = report.casualties.model_dump()
    merged = {k: max(int(incident.casualties.get(k, 0)), v) for k, v in counts.items()}
    if merged != {k: int(incident.casualties.get(k, 0)) for k in counts}:
        incident.casualties = merged
        changes.append("casualties")
    new_refs = [a for a in report.attachments if a not in incident.attachments]
    if new_refs:
        incident.attachments = [*incident.attachments, *new_refs]
        changes.append("attachments")
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="duplicate_report",
        actor=reporter,
        summary=f"repeated report ({report.source}, key {report.dedup_key}): {report.title}"
        + (f"; updated {', '.join(changes)}" if changes else ""),
        data={
            "level": report.level.value,
            "source": report.source,
            "dedup_key": report.dedup_key,
            "title": report.title,
            "changes": changes,
        },
    )
    return changes


def require_open(incident: IncidentRow, *, allow_resolved: bool = False) -> None:
    allowed = [s.value for s in OPEN_STATUSES]
    if allow_resolved:
        allowed.append(IncidentStatus.resolved.value)
    if incident.status not in allowed:
        raise InvalidInput(f"incident {incident.id} is {incident.status}", field="status")


def check_move(incident: IncidentRow, status: IncidentStatus) -> None:
    """Refuse a change of status that TRANSITIONS does not allow, saying what is."""
    current = IncidentStatus(incident.status)
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "nothing"
        raise InvalidInput(
            f"incident {incident.id} is {current.value}; it can go to {allowed}", field="status"
        )


def move(incident: IncidentRow, status: IncidentStatus, *, now: datetime) -> IncidentStatus:
    """Change the status along TRANSITIONS; returns the status it had. Refused otherwise."""
    check_move(incident, status)
    current = IncidentStatus(incident.status)
    incident.status = status.value
    if status is IncidentStatus.resolved:
        incident.resolved_at = now
    elif status is IncidentStatus.closed:
        incident.closed_at = now
    elif current is IncidentStatus.resolved:
        incident.resolved_at = None
    return current


def may_acknowledge(incident: IncidentRow) -> bool:
    return incident.acknowledged_at is None and incident.status in (
        IncidentStatus.reported,
        IncidentStatus.acknowledged,
        IncidentStatus.responding,
    )


def record_acknowledgement(incident: IncidentRow, *, actor: str, now: datetime) -> None:
    incident.acknowledged_at, incident.acknowledged_by = now, actor
    if incident.status == IncidentStatus.reported:
        move(incident, IncidentStatus.acknowledged, now=now)


def expire_acknowledgement(session: AsyncSession, incident: IncidentRow, *, now: datetime) -> None:
    """Acknowledged but not resolved in time: unacknowledged again, a new escalation
    generation (the one transition only the engine makes, `models.ACK_EXPIRY`)."""
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="ack_expired",
        summary=f"acknowledged by {incident.acknowledged_by} but not resolved in time: "
        "escalation starts again",
        data={"acknowledged_by": incident.acknowledged_by},
    )
    current = IncidentStatus(incident.status)
    if current not in ACK_EXPIRY:
        raise InvalidInput(f"incident {incident.id} is {current.value}", field="status")
    incident.acknowledged_at, incident.acknowledged_by = None, None
    incident.status = ACK_EXPIRY[current].value
    incident.escalation_generation += 1
