"""A machine report the engine cannot work fails alone, kept with its reason: it never
leaves half an incident behind, and never stops the reports after it (a report left
accepted after a crash would crash every batch again, and all machine intake with it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service import metrics
from service.flows import intake as intake_flow
from service.incidents.tables import IncidentRow
from service.intake.tables import MachineReportRow
from tests.conftest import Daemon
from tests.intake.test_alertmanager_webhook import alert
from tests.intake.test_reports_pass import report


async def outcomes(daemon: Daemon) -> dict[str, tuple[str, str]]:
    async with daemon.dutyd.sessions() as session:
        rows = await session.scalars(select(MachineReportRow))
        return {row.fingerprint: (row.state, row.detail) for row in rows}


async def incident_titles(daemon: Daemon) -> list[str]:
    async with daemon.dutyd.sessions() as session:
        return list(await session.scalars(select(IncidentRow.title).order_by(IncidentRow.id)))


def not_worked() -> float:
    return metrics.MACHINE_REPORTS.labels(source="alertmanager", outcome="not_worked")._value.get()


async def test_a_report_that_makes_no_valid_incident_is_failed_and_the_rest_go_on(
    daemon: Daemon,
) -> None:
    before = not_worked()
    await report(daemon, alert("bad", unit="x" * 100, station="S1"))
    await report(daemon, alert("good", station="S2"))
    await daemon.dutyd.engine.run_due()
    states = await outcomes(daemon)
    state, detail = states["bad"]
    assert state == "failed"
    assert "water-level" in detail and "unit" in detail and "64 characters" in detail
    assert states["good"][0] == "done"
    assert await incident_titles(daemon) == ["S2水位超警戒"]
    assert not_worked() == before + 1


async def test_a_report_that_crashes_half_way_leaves_nothing_of_itself(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incident it had written is rolled back to the report's savepoint; the next
    report of the same batch is worked and pages."""
    assert daemon.transport is not None
    real_report_incident = intake_flow.report_incident

    async def breaks_after_writing(*args: Any, **kwargs: Any) -> Any:
        opened = await real_report_incident(*args, **kwargs)
        if args[1].title.startswith("S6"):
            raise RuntimeError("a bug in opening an incident")
        return opened

    monkeypatch.setattr(intake_flow, "report_incident", breaks_after_writing)
    await report(daemon, alert("crash", station="S6"), alert("fine", station="S7"))
    await daemon.dutyd.engine.run_due()
    states = await outcomes(daemon)
    assert states["crash"][0] == "failed" and "internal error" in states["crash"][1]
    assert "a bug in opening an incident" in states["crash"][1]
    assert states["fine"][0] == "done"
    assert await incident_titles(daemon) == ["S7水位超警戒"]
    assert any("S7" in message.body for message in daemon.transport.sent)

    monkeypatch.setattr(intake_flow, "report_incident", real_report_incident)
    await report(daemon, alert("again", station="S6"))  # the same station, once it works
    await daemon.dutyd.engine.run_due()
    assert await incident_titles(daemon) == ["S7水位超警戒", "S6水位超警戒"]


async def test_the_databases_trouble_leaves_the_reports_to_be_tried_again(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost connection is not the report's fault: the batch is not marked, and the next
    pass works it."""
    real_report_incident = intake_flow.report_incident

    async def connection_lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, ConnectionResetError("server closed"))

    monkeypatch.setattr(intake_flow, "report_incident", connection_lost)
    await report(daemon, alert("later", station="S8"))
    with pytest.raises(OperationalError):
        await daemon.dutyd.engine.run_reports()
    assert (await outcomes(daemon))["later"][0] == "accepted"

    monkeypatch.setattr(intake_flow, "report_incident", real_report_incident)
    await daemon.dutyd.engine.run_due()
    assert (await outcomes(daemon))["later"][0] == "done"
    assert await incident_titles(daemon) == ["S8水位超警戒"]
