"""`dutyd serve` as a real process: first warnings at once, kill -9, restart, nothing twice."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from service.notify.tables import MessageEventRow, MessageRow
from tests.cli_helpers import DUTYD, cli_env, run_cli
from tests.fakes.smtp import free_port
from tests.plan_helpers import copy_sample_plans

STARTUP_SECONDS = 30
FLOOD = {"category": "natural_disaster", "event_type": "flood", "level": "II"}


def start_daemon(
    tmp_path: Path, port: int, log_name: str, **env: str
) -> tuple[subprocess.Popen[str], Path, Path]:
    out, err = tmp_path / f"{log_name}.out", tmp_path / f"{log_name}.err"
    process = subprocess.Popen(
        [DUTYD, "serve", "--port", str(port)],
        env=cli_env(
            tmp_path, DUTYD_ENGINE_POLL_SECONDS="0.2", DUTYD_SHIFT_REMINDER_HOURS="0", **env
        ),
        stdout=out.open("w"),
        stderr=err.open("w"),
        text=True,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, err.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, out, err
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"daemon not ready in {STARTUP_SECONDS}s: {err.read_text()}")


def wait_for(predicate, what: str, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_daemon_sends_at_once_and_survives_kill_9(tmp_path: Path) -> None:
    """Messages go out at once to the console; after kill -9 and restart nothing repeats."""
    token = run_cli(tmp_path, "token", "create", "--role", "duty_officer", "desk").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    daemon, out, err = start_daemon(tmp_path, port, "first")
    try:
        assert "NO SMS PROVIDER CONFIGURED" in err.read_text()
        assert "NO EMAIL PROVIDER CONFIGURED" in err.read_text()
        base = f"http://127.0.0.1:{port}/api/v1/incidents"
        created = httpx.post(
            base,
            headers=headers,
            timeout=10,
            json={
                "category": "natural_disaster",
                "event_type": "flood",
                "level": "II",
                "unit": "qingshan",
                "title": "青山河水位超警戒",
            },
        )
        assert created.status_code == 201, created.text
        incident_id = created.json()["id"]

        def delivered() -> bool:
            detail = httpx.get(f"{base}/{incident_id}", headers=headers, timeout=5).json()
            return all(m["state"] == "delivered" for m in detail["messages"])

        wait_for(delivered, "the first eight messages to reach the console")
        assert out.read_text().count("[console ") == 8
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)

    daemon, out2, _ = start_daemon(tmp_path, port, "second")
    try:
        detail = httpx.get(f"{base}/{incident_id}", headers=headers, timeout=5).json()
        assert len(detail["messages"]) == 8
        time.sleep(1)  # several engine passes (0.2 s apart) with nothing due
        assert "[console " not in out2.read_text()
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.wait(timeout=15)
    assert daemon.returncode == 0


def test_sighup_reloads_plans_and_refuses_a_broken_set(tmp_path: Path) -> None:
    """SIGHUP applies a good edit; a broken set is refused and visible in API and metrics."""
    plans = copy_sample_plans(tmp_path)
    token = run_cli(tmp_path, "token", "create", "--role", "admin", "ops").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    daemon, _, err = start_daemon(tmp_path, port, "hup", DUTYD_PLANS_DIR=str(plans))
    api = f"http://127.0.0.1:{port}/api/v1/plans"
    try:

        def plan_ids() -> set[str]:
            return {p["id"] for p in httpx.get(api, headers=headers, timeout=5).json()}

        assert "linjiang-fire-drill" not in plan_ids()
        drill = (plans / "road_traffic.yaml").read_text(encoding="utf-8")
        drill = drill.replace("id: linjiang-road-traffic", "id: linjiang-fire-drill")
        drill = drill.replace("event_types: [road_traffic]", "event_types: [fire]")
        (plans / "fire_drill.yaml").write_text(drill, encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "linjiang-fire-drill" in plan_ids(), "the new plan after SIGHUP")

        (plans / "master.yaml").write_text("id: linjiang-master\nkind: emperor\n", encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)

        def refused() -> bool:
            status = httpx.get(f"{api}/status", headers=headers, timeout=5).json()
            return status["last_reload"] is not None and not status["last_reload"]["applied"]

        wait_for(refused, "the refused reload to show in the API")
        status = httpx.get(f"{api}/status", headers=headers, timeout=5).json()
        assert any("master.yaml:2:7: at kind" in p for p in status["last_reload"]["problems"])
        assert "linjiang-fire-drill" in plan_ids() and "linjiang-master" in plan_ids()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'dutyd_plan_reloads_total{result="rejected"} 1.0' in metrics
        assert "dutyd_plan_last_reload_ok 0.0" in metrics
        assert "plans.reload_rejected" in err.read_text()

        response = httpx.post(f"{api}/reload", headers=headers, timeout=10)
        assert response.status_code == 422
        assert response.json()["problems"]
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.wait(timeout=15)


async def test_several_processes_share_the_api_and_the_engine_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    """`http_workers: 2` on PostgreSQL: two processes, every message handed over once."""
    env = {
        "DUTYD_DATABASE_URL": postgres_url,
        "DUTYD_WORKER_NAME": "node1",
        # Each message on its own, none held back: every one must be seen delivered.
        "DUTYD_DIGEST_THRESHOLD": "100",
        "DUTYD_RATE_LIMIT_PER_MINUTE": "600",
    }
    token = run_cli(tmp_path, "token", "create", "--role", "duty_officer", "desk", **env)
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    port = free_port()
    daemon, _, err = start_daemon(tmp_path, port, "workers", DUTYD_HTTP_WORKERS="2", **env)
    try:
        for n in range(20):
            # A new connection each time: the processes share the listening socket.
            async with httpx.AsyncClient(timeout=10) as client:
                created = await client.post(
                    f"http://127.0.0.1:{port}/api/v1/incidents",
                    headers=headers,
                    json={**FLOOD, "title": f"水位{n}", "unit": "hexi" if n % 2 else "qingshan"},
                )
            assert created.status_code == 201, created.text
        engine = create_async_engine(postgres_url)
        try:

            async def undelivered() -> int:
                async with engine.connect() as connection:
                    return int(
                        await connection.scalar(
                            select(func.count())
                            .select_from(MessageRow)
                            .where(MessageRow.state.not_in(["delivered", "bundled"]))
                        )
                        or 0
                    )

            for _ in range(150):  # up to 30 s
                if not await undelivered():
                    break
                await asyncio.sleep(0.2)
            assert await undelivered() == 0
            async with engine.connect() as connection:
                attempts = (
                    await connection.execute(
                        select(MessageEventRow.message_id, func.count())
                        .where(MessageEventRow.state == "sending")
                        .group_by(MessageEventRow.message_id)
                    )
                ).all()
                workers = set(
                    await connection.scalars(select(MessageRow.claimed_by).distinct())
                ) - {None}
        finally:
            await engine.dispose()
        assert attempts and all(count == 1 for _, count in attempts)
        assert workers and all(w.startswith("node1:") for w in workers)
        # Each worker logs its start itself: under load the second line may come late.
        for _ in range(100):
            started = set(re.findall(r"Started server process \[(\d+)\]", err.read_text()))
            if len(started) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(started) == 2
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.wait(timeout=20)
