"""Building dutyd processes on a given database for engine tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from service.app import Dutyd
from service.catalog import Category, Channel, Level
from service.clock import FrozenClock
from service.flows.incidents import report_incident
from service.incidents.models import IncidentReport
from service.notify.cap_push import CapPushTransport
from tests.conftest import make_settings
from tests.fakes.recording import RecordingTransport


async def start_dutyd(
    tmp_path: Path,
    database_url: str,
    clock: FrozenClock,
    worker: str = "worker-a",
    *,
    record: bool = True,
    **overrides: object,
) -> tuple[Dutyd, RecordingTransport]:
    """A started Dutyd whose every channel goes to the RecordingTransport returned; with
    `record=False`, to the real transports its settings configure instead (the returned
    transport then sees nothing)."""
    transport = RecordingTransport()
    settings = make_settings(tmp_path, database_url=database_url, worker_name=worker, **overrides)
    dutyd = Dutyd(
        settings,
        clock=clock,
        transports=(
            {
                Channel.sms: transport,
                Channel.email: transport,
                Channel.voice: transport,
                Channel.cap: CapPushTransport(),  # real HTTP, to a receiver the test runs
            }
            if record
            else None
        ),
    )
    await dutyd.start()
    return dutyd, transport


def flood_report(unit: str = "qingshan", title: str = "河水漫堤") -> IncidentReport:
    return IncidentReport(
        category=Category.natural_disaster,
        event_type="flood",
        level=Level.II,
        unit=unit,
        title=title,
    )


async def report(dutyd: Dutyd, incident: IncidentReport | None = None) -> int:
    async with dutyd.sessions.begin() as session:
        row, _ = await report_incident(
            session,
            incident or flood_report(),
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            reporter="tester",
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
        return row.id


async def count(dutyd: Dutyd, model: type, *conditions: object) -> int:
    async with dutyd.sessions() as session:
        query = select(func.count()).select_from(model)
        for condition in conditions:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(await session.scalar(query) or 0)
