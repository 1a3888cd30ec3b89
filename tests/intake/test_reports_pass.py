"""A pass over machine reports alone (service.passes): reports counted on an open incident
cost no full pass; one that opens or resolves an incident goes on at once as a full pass,
which sends the new incident's first pages."""

from __future__ import annotations

from sqlalchemy import select

from service import metrics
from service.incidents.tables import IncidentRow
from service.intake.models import AmNotification
from service.intake.reports import reports_per_incident, rows_from_alertmanager
from tests.conftest import Daemon
from tests.intake.test_alertmanager_webhook import alert, notification


def full_passes() -> float:
    return metrics.ENGINE_RUNS._value.get()


def reports_passes() -> float:
    return metrics.ENGINE_REPORTS_PASSES._value.get()


async def report(daemon: Daemon, *alerts: dict[str, object]) -> None:
    dutyd = daemon.dutyd
    parsed = AmNotification.model_validate(notification(*alerts))
    await dutyd.intake_writer.store(
        rows_from_alertmanager("alertmanager", parsed, dutyd.clock.now())
    )


async def test_counting_costs_no_full_pass_and_a_new_incident_pages_at_once(
    daemon: Daemon,
) -> None:
    dutyd, transport = daemon.dutyd, daemon.transport
    assert transport is not None
    await report(daemon, alert("p1", station="S3"))
    before = full_passes()
    await dutyd._woken(reports_only=True)
    assert full_passes() == before + 1  # it opened an incident: the full pass followed
    assert transport.sent, "the new incident's first pages"
    async with dutyd.sessions() as session:
        incident = (await session.scalars(select(IncidentRow))).one()
    pages = len(transport.sent)

    await report(daemon, alert("p2", station="S3"), alert("p3", station="S3"))
    alone = reports_passes()
    await dutyd._woken(reports_only=True)
    assert full_passes() == before + 1  # only counted: no full pass
    assert reports_passes() == alone + 1
    async with dutyd.sessions() as session:
        counted, _ = (await reports_per_incident(session, [incident.id]))[incident.id]
    assert counted == 3 and len(transport.sent) == pages

    await report(daemon, alert("p1", status="resolved", station="S3"))
    await dutyd._woken(reports_only=True)
    assert full_passes() == before + 2  # resolved: cancellations, the resolution's news
    async with dutyd.sessions() as session:
        assert (await session.get(IncidentRow, incident.id)).status == "resolved"


async def test_one_full_pass_opens_and_pages(daemon: Daemon) -> None:
    """The intake round comes after the outbox in a full pass: the pass goes round again
    for the pages of what it opened, rather than leaving them for the next wake-up."""
    assert daemon.transport is not None
    await report(daemon, alert("q1", station="S4"))
    await daemon.dutyd.engine.run_due()
    assert daemon.transport.sent, "the new incident's first pages, in the same pass"


async def test_a_backlog_is_worked_batch_by_batch_in_one_wake_up(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    await report(daemon, alert("b0", station="S5"))
    await dutyd._woken(reports_only=True)  # opens the incident
    dutyd.engine.intake_batch_size = 2
    await report(daemon, *(alert(f"b{n}", station="S5") for n in range(1, 6)))
    await dutyd._woken(reports_only=True)
    async with dutyd.sessions() as session:
        incident = (await session.scalars(select(IncidentRow))).one()
        counted, _ = (await reports_per_incident(session, [incident.id]))[incident.id]
    assert counted == 6  # three batches of two, one wake-up
