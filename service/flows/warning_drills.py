"""A warning raised in a drill is a drill's: CAP status Exercise (or Test), marked 【演练】,
and it reaches only the recipients who take part in drills unless the drill lets it
reach the public lists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.drills.tables import DrillRow
from service.errors import InvalidInput
from service.incidents.tables import IncidentRow
from service.warnings.models import CapStatus, WarningContent
from service.warnings.workflow import WarningRules


async def drills_of(session: AsyncSession, incident_ids: list[int]) -> list[DrillRow]:
    """The drills the incidents belong to."""
    if not incident_ids:
        return []
    return list(
        await session.scalars(
            select(DrillRow).where(
                DrillRow.id.in_(
                    select(IncidentRow.drill_id).where(IncidentRow.id.in_(incident_ids))
                )
            )
        )
    )


async def drill_terms(
    session: AsyncSession, rules: WarningRules, content: WarningContent, incident_ids: list[int]
) -> WarningContent:
    """`content` as a warning linked to these incidents may be; refused if it would go
    out as a real warning from a drill."""
    found = await drills_of(session, incident_ids)
    if not found:
        return content
    if content.status is CapStatus.Actual:
        raise InvalidInput(
            f"the warning is linked to drill {found[0].id} ({found[0].title}): a drill's "
            "warning goes out as status Exercise (演练) or Test, never Actual",
            field="status",
        )
    if all(d.public_warnings for d in found) or content.only_groups:
        return content
    return content.model_copy(update={"only_groups": list(rules.drill_groups)})
