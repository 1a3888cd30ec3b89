"""A machine report the engine cannot work fails alone, kept with its reason: it never
leaves half an incident behind, and never stops the reports after it (a report left
accepted after a crash would crash every batch again, and all machine intake with it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError, StatementError

from service import metrics
from service.auth.tokens import Role
from service.errors import NoPlanCovers
from service.flows import intake as intake_flow
from service.incidents.tables import IncidentRow
from service.intake.tables import MachineReportRow
from tests.api_helpers import api_client
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


async def test_a_report_after_a_failed_raise_of_its_incident_reads_it_again(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failed report's savepoint undid its raise of the open incident; the next report
    of that station in the batch sees the incident as it is, not the undone raise (read
    stale, it failed the batch every time it was tried, and all machine intake with it)."""
    real_report_incident = intake_flow.report_incident

    async def breaks_raising_to_ii(*args: Any, **kwargs: Any) -> Any:
        opened = await real_report_incident(*args, **kwargs)
        if args[1].level.value == "II":
            raise RuntimeError("a bug after raising the level")
        return opened

    monkeypatch.setattr(intake_flow, "report_incident", breaks_raising_to_ii)
    await report(
        daemon,
        alert("iv", station="S3", severity="warning"),
        alert("ii", station="S3", severity="critical"),
        alert("iii", station="S3", severity="major"),
    )
    await daemon.dutyd.engine.run_due()
    states = await outcomes(daemon)
    assert states["iv"][0] == "done" and states["iii"][0] == "done"
    assert states["ii"][0] == "failed" and "a bug after raising the level" in states["ii"][1]
    async with daemon.dutyd.sessions() as session:
        levels = list(await session.scalars(select(IncidentRow.level)))
    assert levels == ["III"]


async def test_a_failed_report_is_counted_once_though_its_batch_is_tried_again(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = not_worked()
    real_report_incident = intake_flow.report_incident

    async def connection_lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, ConnectionResetError("server closed"))

    monkeypatch.setattr(intake_flow, "report_incident", connection_lost)
    await report(daemon, alert("bad", unit="x" * 100, station="S1"), alert("ok", station="S2"))
    with pytest.raises(OperationalError):
        await daemon.dutyd.engine.run_reports()
    assert not_worked() == before  # the batch rolled back: nothing of it is counted

    monkeypatch.setattr(intake_flow, "report_incident", real_report_incident)
    await daemon.dutyd.engine.run_due()
    assert (await outcomes(daemon))["bad"][0] == "failed"
    assert not_worked() == before + 1


async def test_a_statement_that_cannot_be_made_of_a_report_is_the_reports_failure(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised before the database saw it (a value no column takes), it would fail the same
    way every time the batch was tried: failed alone, not tried forever."""
    real_report_incident = intake_flow.report_incident

    async def unbindable(*args: Any, **kwargs: Any) -> Any:
        if args[1].title.startswith("S4"):
            raise StatementError("bind failed", "INSERT", {}, ValueError("no such value"))
        return await real_report_incident(*args, **kwargs)

    monkeypatch.setattr(intake_flow, "report_incident", unbindable)
    await report(daemon, alert("unbindable", station="S4"), alert("next", station="S5"))
    await daemon.dutyd.engine.run_due()
    states = await outcomes(daemon)
    assert states["unbindable"][0] == "failed" and "bind failed" in states["unbindable"][1]
    assert states["next"][0] == "done"


@pytest.mark.parametrize("problem", [NoPlanCovers("no plan for hexi"), RuntimeError("a bug")])
async def test_a_silence_that_cannot_be_reported_does_not_stop_the_reports(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, problem: Exception
) -> None:
    """The heartbeat's incident is tried again next pass; the round's alerts are worked."""
    dutyd = daemon.dutyd
    gauge = await api_client(dutyd, Role.source, "rain-gauge-r3")
    assert (await gauge.post("/api/v1/intake/heartbeat")).status_code == 200
    real_report_incident = intake_flow.report_incident

    async def silence_fails(*args: Any, **kwargs: Any) -> Any:
        if args[1].dedup_key.startswith("heartbeat:"):
            raise problem
        return await real_report_incident(*args, **kwargs)

    monkeypatch.setattr(intake_flow, "report_incident", silence_fails)
    dutyd.clock.advance(timedelta(minutes=11))
    await report(daemon, alert("meanwhile", station="S9"))
    await dutyd.engine.run_due()
    assert (await outcomes(daemon))["meanwhile"][0] == "done"
    assert await incident_titles(daemon) == ["S9水位超警戒"]

    monkeypatch.setattr(intake_flow, "report_incident", real_report_incident)
    await dutyd.engine.run_due()
    titles = await incident_titles(daemon)
    assert len(titles) == 2 and "rain_gauge_r3 未按时报到" in titles[1]
    await gauge.aclose()


async def test_batches_go_without_savepoints_until_a_report_fails(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A savepoint a report is two round trips more for each new incident: a batch goes
    without; a report failing in it has the batch worked again, each report in its own,
    and the batches of the next half minute too."""
    dutyd = daemon.dutyd
    assert dutyd.db is not None
    savepoints: list[str] = []

    def count_savepoints(*args: Any) -> None:
        if str(args[2]).startswith("SAVEPOINT"):
            savepoints.append(args[2])

    event.listen(dutyd.db.sync_engine, "before_cursor_execute", count_savepoints)
    real_report_incident = intake_flow.report_incident

    async def breaks_on_s6(*args: Any, **kwargs: Any) -> Any:
        if args[1].title.startswith("S6"):
            raise RuntimeError("a bug in opening an incident")
        return await real_report_incident(*args, **kwargs)

    monkeypatch.setattr(intake_flow, "report_incident", breaks_on_s6)
    try:
        await report(daemon, alert("fast", station="S1"))
        await dutyd.engine.run_due()
        assert savepoints == []
        await report(daemon, alert("crash", station="S6"), alert("fine", station="S7"))
        await dutyd.engine.run_due()
        worked_again = len(savepoints)
        assert worked_again >= 1  # the batch again, each report in its own
        await report(daemon, alert("after", station="S8"))
        await dutyd.engine.run_due()
        assert len(savepoints) == worked_again + 1  # careful for a while
        dutyd.clock.advance(intake_flow.CAREFUL_FOR + timedelta(seconds=1))
        await report(daemon, alert("later", station="S9"))
        await dutyd.engine.run_due()
        assert len(savepoints) == worked_again + 1
    finally:
        event.remove(dutyd.db.sync_engine, "before_cursor_execute", count_savepoints)
    states = await outcomes(daemon)
    assert states["crash"][0] == "failed"
    assert all(states[f][0] == "done" for f in ("fast", "fine", "after", "later"))
