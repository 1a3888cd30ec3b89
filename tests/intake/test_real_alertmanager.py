"""The real Alertmanager (Debian's prometheus-alertmanager, started by the test) sends its
webhook to a served dutyd with a source token: the sample rules turn its WaterLevelHigh
alert into a flood incident in qingshan, and its resolution resolves it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from service.auth.tokens import Role, create_token
from service.incidents.tables import IncidentRow
from service.intake.tables import MachineReportRow
from tests.conftest import Daemon
from tests.web.served import free_port, serve_console

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def require_alertmanager() -> None:
    if os.access(ALERTMANAGER, os.X_OK):
        return
    reason = f"needs {ALERTMANAGER}: apt-get install prometheus-alertmanager (scripts/test does)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def alertmanager_config(webhook: str, token: str) -> dict[str, object]:
    return {
        "route": {
            "receiver": "dutyd",
            "group_by": ["alertname", "unit", "station"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "dutyd",
                "webhook_configs": [
                    {
                        "url": webhook,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }


class Alertmanager:
    def __init__(self, tmp_path: Path, webhook: str, token: str) -> None:
        self.port = free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(webhook, token)), encoding="utf-8")
        self.process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "alertmanager.log", "wb"),
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"alertmanager exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("alertmanager did not become ready in 20 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def alertmanager_binary() -> Iterator[str]:
    require_alertmanager()
    yield shutil.which(ALERTMANAGER) or ALERTMANAGER


async def reports(daemon: Daemon, status: str) -> int:
    async with daemon.dutyd.sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(MachineReportRow.status == status)) or 0
        )


WEBHOOK_WAIT = 30.0  # seconds
POLL = 0.1


async def arrived(daemon: Daemon, status: str) -> None:
    """Alertmanager works on its own clock: wait (really) for its webhook to arrive."""
    for _ in range(int(WEBHOOK_WAIT / POLL)):
        if await reports(daemon, status):
            return
        await asyncio.sleep(POLL)
    raise AssertionError(f"no {status} webhook from Alertmanager in {WEBHOOK_WAIT} s")


async def test_the_real_alertmanager_opens_and_resolves_an_incident(
    daemon: Daemon, tmp_path: Path, alertmanager_binary: str
) -> None:
    dutyd = daemon.dutyd
    async with dutyd.sessions.begin() as session:
        token = await create_token(
            session, name="alertmanager", role=Role.source, now=dutyd.clock.now()
        )
    async with serve_console(dutyd) as base:
        manager = Alertmanager(tmp_path, f"{base}/api/v1/intake/alertmanager", token)
        try:
            await asyncio.to_thread(manager.wait_ready)
            alert = {
                "labels": {
                    "alertname": "WaterLevelHigh",
                    "event_type": "flood",
                    "unit": "qingshan",
                    "severity": "critical",
                    "station": "S17",
                },
                "annotations": {"summary": "青山河S17站水位超警戒0.5米"},
                "startsAt": datetime.now(UTC).isoformat(),
            }
            async with httpx.AsyncClient(base_url=manager.url) as client:
                posted = await client.post("/api/v2/alerts", json=[alert])
                assert posted.status_code == 200, posted.text
                await arrived(daemon, "firing")
                await dutyd.engine.run_due()
                async with dutyd.sessions() as session:
                    incident = await session.scalar(select(IncidentRow))
                assert incident is not None
                assert (incident.event_type, incident.unit_id, incident.level) == (
                    "flood",
                    "qingshan",
                    "II",
                )
                assert incident.description == "青山河S17站水位超警戒0.5米"
                ended = {**alert, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
                assert (await client.post("/api/v2/alerts", json=[ended])).status_code == 200
                await arrived(daemon, "resolved")
            await dutyd.engine.run_due()
            async with dutyd.sessions() as session:
                status = await session.scalar(
                    select(IncidentRow.status).where(IncidentRow.id == incident.id)
                )
            assert status == "resolved"
        finally:
            manager.stop()
