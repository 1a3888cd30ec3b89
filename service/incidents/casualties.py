"""Casualty and loss figures of an incident, and a level they imply put to the officer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import LEVEL_NAMES, Level
from service.incidents.models import Casualties, CasualtyUpdate
from service.incidents.service import require_open
from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry


def set_casualties(
    session: AsyncSession,
    incident: IncidentRow,
    update: CasualtyUpdate,
    *,
    actor: str,
    now: datetime,
) -> bool:
    """Record the figures as now known, on the timeline with what changed; False if nothing did."""
    require_open(incident, allow_resolved=True)
    old = {k: int(incident.casualties.get(k, 0)) for k in Casualties.model_fields}
    new = update.casualties.model_dump()
    changed = [f"{k} {old[k]}→{new[k]}" for k in new if new[k] != old[k]]
    losses_changed = update.losses is not None and update.losses != (incident.losses or "")
    if losses_changed:
        incident.losses = update.losses
        changed.append("losses")
    if not changed:
        return False
    incident.casualties = new
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="casualties_updated",
        actor=actor,
        summary=f"casualties and losses updated by {actor}: {', '.join(changed)}"
        + (f" ({update.note})" if update.note else ""),
        data={"from": old, "to": new, "losses_changed": losses_changed, "note": update.note},
    )
    return True


def propose_level(
    session: AsyncSession,
    incident: IncidentRow,
    *,
    level: Level,
    reason: str,
    now: datetime,
    figures: dict[str, Any] | None = None,
) -> bool:
    """Put a level the figures imply before the officer; False if it is already proposed.
    `figures` are the facts of `reason` (`ImpliedLevel.facts`), for the timeline."""
    if incident.proposed_level == level.value:
        return False
    incident.proposed_level, incident.proposed_reason = level.value, reason
    add_entry(
        session,
        incident_id=incident.id,
        at=now,
        kind="level_proposed",
        summary=f"level {level.value} ({LEVEL_NAMES[level]['en']}) proposed: {reason}; "
        "the officer confirms it by raising the level",
        data={"level": level.value, "current": incident.level, "reason": reason, **(figures or {})},
    )
    return True
