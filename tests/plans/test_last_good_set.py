"""A broken plan file on disk never leaves the city without escalation: a process starts
on the last set of plans that loaded, and says so in the log, the API and the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from service.auth.tokens import Role
from service.clock import FrozenClock
from service.errors import PlanInvalid
from tests.api_helpers import api_client
from tests.engine_helpers import flood_report, report, start_dutyd
from tests.plan_helpers import copy_sample_plans


async def test_a_broken_plan_file_at_start_runs_the_last_good_set(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """Plans load and are archived; a bad edit, then a restart: the daemon starts on the
    archived set, the rejection is visible, and incidents still page people."""
    plans = copy_sample_plans(tmp_path)
    first, _ = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans)
    good_version = first.runtime.plans.digest
    await first.stop()

    flood = plans / "qingshan_flood.yaml"
    flood.write_text(flood.read_text(encoding="utf-8") + "\nwait: soon\n", encoding="utf-8")
    dutyd, transport = await start_dutyd(tmp_path, database_url, clock, plans_dir=plans)
    try:
        assert dutyd.runtime.plans.digest == good_version
        assert dutyd.last_reload is not None and not dutyd.last_reload.applied
        assert any("qingshan_flood.yaml" in p for p in dutyd.last_reload.problems)
        assert REGISTRY.get_sample_value("dutyd_plan_last_reload_ok") == 0
        admin = await api_client(dutyd, Role.admin)
        status = (await admin.get("/api/v1/plans/status")).json()
        assert status["plans_version"] == good_version
        assert status["last_reload"]["applied"] is False
        await admin.aclose()
        await report(dutyd, flood_report())
        await dutyd.tick()
        assert transport.sent, "nobody was paged on the last good plans"
    finally:
        await dutyd.stop()


async def test_with_no_plan_set_ever_loaded_a_broken_file_still_stops_the_start(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """A new database has no last good set to fall back on: the start fails, naming why."""
    plans = copy_sample_plans(tmp_path)
    (plans / "master.yaml").write_text("id: [\n", encoding="utf-8")
    with pytest.raises(PlanInvalid, match=r"master\.yaml"):
        await start_dutyd(tmp_path, database_url, clock, plans_dir=plans)
