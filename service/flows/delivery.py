"""What the outbox reports, put where people look: on each incident's timeline, and to
the duty office when someone cannot be reached. The incidents' side of the notify port
(`notify.observer.DeliveryObserver`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.incidents.tables import IncidentRow
from service.incidents.timeline import add_entry
from service.notify.observer import DeliveryResult, FailOver
from service.notify.queue import tell_people
from service.roster.roster import Roster


class TimelineObserver:
    def __init__(self, roster: Callable[[], Roster]) -> None:
        self._roster = roster

    async def results(
        self, session: AsyncSession, results: list[DeliveryResult], now: datetime
    ) -> None:
        for result in results:
            digest = " (digest)" if result.digest and result.about else ""
            for incident_id in result.about:
                add_entry(
                    session,
                    incident_id=incident_id,
                    at=now,
                    kind="message_failed" if result.failed else "message_sent",
                    summary=f"{result.channel} to {result.address}{digest} {result.detail}",
                    data={
                        "message_id": result.message_id,
                        "person": result.person_id,
                        "channel": result.channel,
                        "address": result.address,
                        "digest": bool(digest),
                        "detail": result.detail,
                    },
                )

    async def failed_over(self, session: AsyncSession, change: FailOver, now: datetime) -> None:
        if change.incident_id is not None:
            add_entry(
                session,
                incident_id=change.incident_id,
                at=now,
                kind="failover",
                summary=f"{change.failed_channel} to {change.person_name} failed; trying "
                f"{change.next_channel} {change.next_address}",
                data={
                    "message_id": change.failed_message_id,
                    "person": change.person_id,
                    "person_name": change.person_name,
                    "failed_channel": change.failed_channel,
                    "next_channel": change.next_channel,
                    "next_address": change.next_address,
                },
            )

    async def unreachable(
        self, session: AsyncSession, *, person_id: str, incident_id: int | None, now: datetime
    ) -> None:
        roster = self._roster()
        person = roster.people.get(person_id)
        name = person.name if person else person_id
        unit_id = None
        if incident_id is not None:
            add_entry(
                session,
                incident_id=incident_id,
                at=now,
                kind="person_unreachable",
                summary=f"{name} cannot be reached: every contact method failed",
                data={"person": person_id, "person_name": name},
            )
            incident = await session.get(IncidentRow, incident_id)
            unit_id = incident.unit_id if incident else None
        tell_people(
            session,
            [p for p in roster.duty_office(now, unit_id) if p.id != person_id],
            "unreachable",
            {"person_name": name, "incident_id": incident_id},
            now,
            incident_id=incident_id,
        )
