"""An open incident's level, category and plan: each change on the timeline, with the
facts of what made it (a repeated report, casualty figures, a corrected type) so the
console can say it in the reader's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import EVENT_TYPES, LEVEL_NAMES, Category, Level
from service.errors import InvalidInput, UnknownValue
from service.incidents.models import LEVEL_ORDER
from service.incidents.service import require_open
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.plans.models import ResolvedPlan


def set_level(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    level: Level,
    reason: str,
    actor: str,
    now: datetime,
    cause: dict[str, Any] | None = None,
) -> None:
    """`cause`: what made dutyd change it, as facts (a repeated report, casualty figures),
    so the timeline can say `reason` in the reader's language."""
    require_open(incident)
    if Level(incident.level) == level:
        raise InvalidInput(f"incident {incident.id} is already level {level.value}", field="level")
    old = incident.level
    incident.level = level.value
    incident.proposed_level = incident.proposed_reason = None
    verb = "raised" if LEVEL_ORDER[level] > LEVEL_ORDER[Level(old)] else "lowered"
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="level_changed",
        actor=actor,
        summary=f"level {verb} from {old} to {level.value} ({LEVEL_NAMES[level]['en']}): {reason}",
        data={
            "from": old,
            "to": level.value,
            "raised": verb == "raised",
            "reason": reason,
            **(cause or {}),
        },
    )


def set_category(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    category: Category,
    event_type: str,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    if event_type not in EVENT_TYPES[category]:
        raise UnknownValue("event_type", event_type, list(EVENT_TYPES[category]))
    require_open(incident)
    old = f"{incident.category}/{incident.event_type}"
    was = {"from_category": incident.category, "from_event_type": incident.event_type}
    incident.category, incident.event_type = category.value, event_type
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="category_changed",
        actor=actor,
        summary=f"category corrected from {old} to {category.value}/{event_type}: {reason}",
        data={**was, "category": category.value, "event_type": event_type, "reason": reason},
    )


def set_plan(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    plan: ResolvedPlan,
    why: str,
    reason: str,
    actor: str,
    now: datetime,
    cause: dict[str, Any] | None = None,
    grounds: dict[str, Any] | None = None,
) -> None:
    """Put the incident under `plan`; its escalation starts a new generation. `cause`
    and `grounds` are the facts of `why` and `reason`, for the timeline."""
    old = f"{incident.plan_id}@{incident.plan_version[:12]}"
    was = {"from_plan": incident.plan_id, "from_version": incident.plan_version}
    incident.plan_id, incident.plan_version = plan.plan.id, plan.digest
    incident.escalation_generation += 1
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="replanned",
        actor=actor,
        summary=f"{why}: {old} -> {incident.plan_id}@{incident.plan_version[:12]}; {reason}",
        data={
            "plan": incident.plan_id,
            "version": incident.plan_version,
            **was,
            "title": plan.plan.title,
            **({"grounds": grounds} if grounds is not None else {}),
            **(cause or {}),
        },
    )
