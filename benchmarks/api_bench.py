"""Benchmark logging incidents through the HTTP API of a real dutyd process.

Run with `python -m benchmarks.api_bench [--seconds 20] [--concurrency 32]`.

For each backend (SQLite file, and PostgreSQL when a server is configured, see
`benchmarks.engine_bench`), a fresh data directory and database: a token is created with
`dutyd token create`, then `dutyd serve` runs as a subprocess on a free port of 127.0.0.1
with the settings file switched off, the repository's roster and plans, log level WARNING
and no shift reminders. No provider is configured, so messages go to the console transport
(written to the daemon's log file). N workers, each with a keep-alive connection, POST
valid incident reports for a bounded time; only answers 201 count. Afterwards the outbox
is watched until it is empty: the incidents' pages are sent by the same process, and how
long after their creation they went out is reported too (a message bundled into a digest
goes out with its digest). The daemon runs with dutyd's default delivery policy, so pages
for one person beyond the per-person rate limit are held back on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.engine_bench import (
    REPO,
    machine,
    percentile,
    postgres_admin_url,
    read_deliveries,
    source_state,
    summary_ms,
)
from benchmarks.engine_bench import fresh_postgres_database as fresh_database
from service.incidents.tables import IncidentRow
from service.notify.tables import MessageRow, MessageState

HOST = "127.0.0.1"
GOAL_RATE = 500.0
GOAL_P99_S = 0.100
MAX_REQUESTS = 1_000_000  # a bound on the loop whatever the time says
DRAIN_SECONDS = 300.0


@dataclass
class Result:
    backend: str
    concurrency: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    incidents_stored: int = 0
    backlog_at_end: int = 0
    drain_seconds: float | None = None
    page_delays: list[float] = field(default_factory=list)
    bundled: int = 0
    deferred: int = 0
    unsent: int = 0
    daemon_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    log_notes: Counter[str] = field(default_factory=Counter)
    first_traceback: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process and its live children have used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def daemon_environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYD_")}
    env.update(
        DUTYD_DATA_DIR=str(data_dir),
        DUTYD_CONFIG=str(data_dir / "no-such-settings.yaml"),
        DUTYD_ROSTER_FILE=str(REPO / "config" / "roster.yaml"),
        DUTYD_PLANS_DIR=str(REPO / "plans"),
        DUTYD_LOG_LEVEL="WARNING",
        DUTYD_SHIFT_REMINDER_HOURS="0",
        # The daemon runs the same source as this benchmark, wherever that was installed.
        PYTHONPATH=str(REPO),
    )
    if database_url:
        env["DUTYD_DATABASE_URL"] = database_url
    return env


def dutyd_command() -> str:
    return str(Path(sys.executable).with_name("dutyd"))


async def create_token(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        dutyd_command(),
        "token",
        "create",
        "--role",
        "duty_officer",
        "bench",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise SystemExit(f"dutyd token create failed:\n{err.decode(errors='replace')}")
    return out.decode().strip().splitlines()[-1]


def read_log(log: Path) -> str:
    return log.read_text(errors="replace")


LOG_SIGNS = {
    "skipped: maximum number of running instances": "scheduler: run skipped, job still running",
    "was missed by": "scheduler: run missed its time",
    "raised an exception": "scheduler: job raised an exception",
    "[error": "dutyd: error",
    "[critical": "dutyd: critical",
}


def log_trouble(text: str) -> tuple[Counter[str], list[str]]:
    """Count the kinds of trouble in the daemon's log; keep the first traceback."""
    notes: Counter[str] = Counter()
    lines = text.splitlines()
    first: list[str] = []
    for n, line in enumerate(lines):
        for sign, what in LOG_SIGNS.items():
            if sign in line:
                notes[what] += 1
        if "[warning" in line and "transport.console" not in line:
            notes["dutyd: warning"] += 1
        if line.startswith("Traceback") and not first:
            first = [line]
            for follow in lines[n + 1 : n + 80]:
                first.append(follow)
                if not follow.startswith(" "):
                    break
    return notes, first


async def wait_ready(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        for _ in range(240):  # 60 s
            if process.returncode is not None:
                raise SystemExit(f"dutyd serve exited:\n{read_log(log)[-4000:]}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit("dutyd serve did not become ready within 60 s")


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the daemon this benchmark started (uvicorn shuts down cleanly), then kill."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await asyncio.wait_for(process.wait(), 10)


def body(n: int) -> dict[str, str]:
    return {
        "category": "accident_disaster",
        "event_type": "road_traffic",
        "level": "IV",
        "unit": "hexi",
        "title": f"bench {n}",
    }


async def warm_up(base_url: str, token: str) -> None:
    """A few reports first: imports, caches and plan archive rows; not counted."""
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0
    ) as client:
        for n in range(20):
            (await client.post("/api/v1/incidents", json=body(-n))).raise_for_status()


async def drive(base_url: str, token: str, result: Result, seconds: float) -> None:
    """`concurrency` workers POST reports back to back until the time is up."""
    counter = iter(range(MAX_REQUESTS))
    limits = httpx.Limits(
        max_connections=result.concurrency, max_keepalive_connections=result.concurrency
    )
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=60.0,
    ) as client:
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            for n in counter:
                if time.perf_counter() >= stop_at:
                    return
                began = time.perf_counter()
                try:
                    response = await client.post("/api/v1/incidents", json=body(n))
                except httpx.HTTPError as exc:
                    result.failures[type(exc).__name__] += 1
                    continue
                if response.status_code == 201:
                    result.latencies.append(time.perf_counter() - began)
                else:
                    result.failures[f"HTTP {response.status_code}"] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(result.concurrency)))
        result.seconds = time.perf_counter() - began


async def watch_outbox(database_url: str, result: Result, since: datetime) -> None:
    """Wait (bounded) until the daemon has sent every queued message; read the delays."""
    engine = create_async_engine(database_url)
    try:
        pending = (MessageState.pending, MessageState.sending)
        began = time.perf_counter()
        async with engine.connect() as connection:
            result.incidents_stored = int(
                await connection.scalar(select(func.count()).select_from(IncidentRow)) or 0
            )
        first = True
        while time.perf_counter() - began < DRAIN_SECONDS:
            async with engine.connect() as connection:
                left = int(
                    await connection.scalar(
                        select(func.count())
                        .select_from(MessageRow)
                        .where(MessageRow.state.in_(pending))
                    )
                    or 0
                )
            if first:
                result.backlog_at_end, first = left, False
            if left == 0:
                result.drain_seconds = time.perf_counter() - began
                break
            await asyncio.sleep(0.5)
        deliveries = await read_deliveries(engine, since)
        result.page_delays = [
            (at - created).total_seconds() for _, created, at in deliveries.handed_over
        ]
        result.bundled, result.deferred, result.unsent = (
            deliveries.bundled,
            deliveries.deferred,
            deliveries.unsent,
        )
    finally:
        await engine.dispose()


async def bench_backend(
    backend: str, *, seconds: float, concurrency: int, postgres_url: str | None, workers: int = 1
) -> Result:
    result = Result(backend=backend, concurrency=concurrency)
    with tempfile.TemporaryDirectory(prefix="dutyd-api-bench-") as tmp_name:
        data_dir = Path(tmp_name)
        if backend == "postgres":
            if postgres_url is None:
                raise SystemExit("no PostgreSQL server configured (see --help)")
            async with fresh_database(postgres_url, "dutyd_bench_api") as url:
                await run_daemon(result, data_dir, url, url, seconds, workers)
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'dutyd.db'}"
            await run_daemon(result, data_dir, None, url, seconds, workers)
    return result


async def run_daemon(
    result: Result, data_dir: Path, setting: str | None, url: str, seconds: float, workers: int
) -> None:
    env = daemon_environment(data_dir, setting)
    env["DUTYD_HTTP_WORKERS"] = str(workers)
    token = await create_token(env)
    port = free_port()
    log = data_dir / "dutyd.log"
    with open(log, "wb") as log_file:  # noqa: ASYNC230 - opened once, before any load
        process = await asyncio.create_subprocess_exec(
            dutyd_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            env=env,
            cwd=REPO,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            base_url = f"http://{HOST}:{port}"
            await wait_ready(base_url, process, log)
            await warm_up(base_url, token)
            since = datetime.now(UTC)
            result.load_before = os.getloadavg()[0]
            daemon_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            await drive(base_url, token, result, seconds)
            result.daemon_cpu_seconds = cpu_seconds(process.pid) - daemon_cpu
            result.client_cpu_seconds = time.process_time() - client_cpu
            result.load_after = os.getloadavg()[0]
            await watch_outbox(url, result, since)
        finally:
            await stop(process)
    result.log_notes, result.first_traceback = log_trouble(read_log(log))


def report(result: Result) -> None:
    print(f"\n== {result.backend}: {result.concurrency} concurrent clients ==")
    ok = len(result.latencies)
    failed = sum(result.failures.values())
    print(
        f"POST /api/v1/incidents: {ok} created in {result.seconds:.1f} s = "
        f"{result.rate:.1f} incidents/s"
        + (f"; {failed} failed: {dict(result.failures)}" if failed else "")
    )
    print(f"  latency                 {summary_ms(result.latencies)}")
    if result.latencies:
        print(
            f"  CPU: daemon {result.daemon_cpu_seconds:.1f} s "
            f"({1000 * result.daemon_cpu_seconds / len(result.latencies):.1f} ms per incident), "
            f"load generator {result.client_cpu_seconds:.1f} s; load average "
            f"{result.load_before:.1f} before, {result.load_after:.1f} after"
        )
    p99 = percentile(result.latencies, 99)
    print(
        f"  goal {GOAL_RATE:.0f}/s with p99 < {GOAL_P99_S * 1000:.0f} ms: "
        + (
            "met"
            if result.rate >= GOAL_RATE and p99 < GOAL_P99_S
            else f"missed ({result.rate:.0f}/s, p99 {p99 * 1000:.0f} ms)"
        )
    )
    print(f"  incidents in the database: {result.incidents_stored} (20 of them warm-up)")
    drained = (
        f"sent within {result.drain_seconds:.1f} s after the load stopped"
        if result.drain_seconds is not None
        else f"NOT all sent {DRAIN_SECONDS:.0f} s after the load stopped"
    )
    print(f"  outbox: {result.backlog_at_end} messages waiting when the load stopped, {drained}")
    print(f"  pages   sent - queued   {summary_ms(result.page_delays)}")
    print(
        f"          ({result.bundled} went out in digests, {result.deferred} were held back by "
        f"the per-person rate limit, {result.unsent} not sent)"
    )
    for what, count in sorted(result.log_notes.items()):
        print(f"  daemon log: {what}: {count}")
    if result.first_traceback:
        print("  first traceback in the daemon's log:")
        for line in result.first_traceback:
            print(f"    {line[:200]}")


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    postgres_url = postgres_admin_url(args.postgres_url)
    if args.backend == "both" and postgres_url is None:
        print("no PostgreSQL server configured: SQLite only")
        backends = ["sqlite"]
    print(f"machine: {machine()}; {source_state()}")
    print(
        f"{args.seconds:.0f} s of load per backend, {args.concurrency} clients with keep-alive, "
        f"http_workers={args.workers}"
    )
    for backend in backends:
        result = await bench_backend(
            backend,
            seconds=args.seconds,
            concurrency=args.concurrency,
            postgres_url=postgres_url,
            workers=args.workers,
        )
        report(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="http_workers of the daemon")
    parser.add_argument("--postgres-url", default=None, help="server to create a database in")
    args = parser.parse_args()
    if args.seconds <= 0 or args.seconds > 600 or args.concurrency < 1:
        raise SystemExit("--seconds must be in (0, 600] and --concurrency at least 1")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
