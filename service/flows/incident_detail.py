"""An incident with everything about it: its timeline, each message and its state, each
report duty. Read from each subject's own rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.incidents.models import IncidentDetail, MachineReports, MessageView, TimelineEntry
from service.incidents.tables import IncidentRow
from service.incidents.timeline import pending_timeline, read_timeline
from service.incidents.views import incident_view
from service.intake.reports import reports_per_incident
from service.notify.queue import messages_for_incident
from service.notify.tables import MessageRow
from service.reports.names import duty_view
from service.reports.service import duties_for_incident
from service.reports.tables import ReportDutyRow


async def get_incident_detail(session: AsyncSession, *, incident_id: int) -> IncidentDetail:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound("incident", incident_id)
    timeline = await read_timeline(session, incident_id)
    detail = _detail(
        row,
        timeline,
        await messages_for_incident(session, incident_id),
        await duties_for_incident(session, incident_id),
    )
    counted = (await reports_per_incident(session, [incident_id])).get(incident_id)
    if counted is not None:
        detail.machine_reports = MachineReports(count=counted[0], last_at=counted[1])
    return detail


async def new_incident_detail(session: AsyncSession, incident: IncidentRow) -> IncidentDetail:
    """The detail of an incident logged in this very transaction (what `get_incident_detail`
    would read back after the commit), in the same transaction: its timeline entries are
    still pending, and its messages and duties are read from the write connection."""
    await session.flush()
    return _detail(
        incident,
        pending_timeline(session, incident.id),
        await messages_for_incident(session, incident.id),
        await duties_for_incident(session, incident.id),
    )


def _detail(
    row: IncidentRow,
    timeline: list[TimelineEntry],
    messages: list[MessageRow],
    duties: list[ReportDutyRow],
) -> IncidentDetail:
    return IncidentDetail(
        **incident_view(row).model_dump(),
        timeline=timeline,
        messages=[
            MessageView(
                id=m.id,
                person_id=m.person_id,
                channel=m.channel,
                address=m.address,
                state=m.state,
                transport=m.transport,
                provider_id=m.provider_id,
                error=m.error,
                created_at=m.created_at,
                sent_at=m.sent_at,
                digest_of=m.digest_of,
            )
            for m in messages
        ],
        reports=[duty_view(d) for d in duties],
    )
