"""A warning drafted from an incident: its hazard from the event type, its colour from the
level, its area the unit's division code, its text from what was logged. The drafter
then corrects what a person must."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.policy import Principal
from service.catalog import Level
from service.errors import InvalidInput, NotFound
from service.flows.warnings import WarningDesk, draft_warning
from service.incidents.tables import IncidentRow
from service.warnings.hazards import HAZARDS, hazard_for_event_type
from service.warnings.models import CapStatus, WarningContent
from service.warnings.tables import WarningRow

DRAFT_VALID_FOR = timedelta(hours=24)


def prefill(incident: IncidentRow, desk: WarningDesk) -> WarningContent:
    hazard = hazard_for_event_type(incident.event_type)
    if hazard is None:
        known = ", ".join(sorted({h.event_type for h in HAZARDS.values()}))
        raise InvalidInput(
            f"incident {incident.id} is of event type {incident.event_type}, which no warning "
            f"hazard covers (those that do: {known})",
            field="event_type",
        )
    sender = desk.rules.units.get(incident.unit_id)
    if sender is None:
        raise InvalidInput(
            f"unit {incident.unit_id} has no issuing body in the warnings file", field="unit"
        )
    return WarningContent.model_validate(
        {
            "hazard": hazard.id,
            "level": Level(incident.level),
            "areas": [{"description": sender.zh, "codes": [sender.area_code]}],
            "texts": [
                {
                    "language": "zh-CN",
                    "headline": incident.title[:200],
                    "description": (incident.description or incident.title)[:4000],
                    "instruction": "",
                }
            ],
            "expires": desk.now + DRAFT_VALID_FOR,
            "certainty": "Observed",
            "urgency": "Immediate",
            # A drill's incident raises a drill's warning.
            "status": CapStatus.Exercise if incident.drill_id else CapStatus.Actual,
        }
    )


async def draft_from_incident(
    session: AsyncSession, desk: WarningDesk, incident_id: int, *, actor: Principal
) -> WarningRow:
    incident = await session.get(IncidentRow, incident_id)
    if incident is None:
        raise NotFound("incident", incident_id)
    return await draft_warning(
        session,
        desk,
        prefill(incident, desk),
        unit_id=incident.unit_id,
        actor=actor,
        incident_ids=[incident.id],
    )
