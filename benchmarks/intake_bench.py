"""Benchmark machine intake side by side with the real Alertmanager on this machine.

Run with `python -m benchmarks.intake_bench [--backend sqlite|postgres|both]
[--seconds 20] [--concurrency 16] [--generators 1] [--profile DIR]`.

Alertmanager: Debian's `/usr/bin/prometheus-alertmanager`, started with a temporary
configuration (one receiver that sends nothing) and storage directory on a free port of
127.0.0.1, takes `POST /api/v2/alerts` with one distinct alert per request, as its API
receives them from Prometheus.

dutyd: `dutyd serve` as a subprocess (see `benchmarks.api_bench`), a fresh SQLite file or
PostgreSQL database, the repository's roster, plans and intake rules with the
alertmanager source's rate limit raised to the most the file allows, and a `source`
token named `alertmanager`; it takes `POST /api/v1/intake/alertmanager` (webhook
version 4) with one distinct alert per request (its own fingerprint and `instance`
label). A 202 means the alert is committed. The alerts fall into `--groups` stations of
qingshan, so the sample rule `water-level` makes that many incidents, and the engine (in
the same process, as in production) counts every other alert on them while the load runs.

The load: `--generators` processes (`--generate`, below), each holding its share of
`--concurrency` keep-alive connections over raw asyncio streams, each connection sending
its next request as soon as the previous answer is read (closed loop), for `--seconds`,
after a short warm-up that is not timed. Every request's latency is from just before its
bytes are written to the end of its answer. The generators' own CPU time is measured and
reported, with the server's: if a generator nears a whole core, it is the bottleneck.

Afterwards every 2xx is looked for in the database (the count of machine reports must be
the count of 2xx, warm-up included), the engine is given time to work them all, and the
incidents are counted. With `--profile DIR` the daemon runs under cProfile (slower) and
its own time by package and by function is printed.
`--workers N` runs the daemon as N processes (`http_workers`), each with its own group
commit and engine; their counters and event-loop CPU are then not printed.

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import pstats
import signal
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.api_bench import (
    HOST,
    cpu_seconds,
    daemon_environment,
    dutyd_command,
    free_port,
    log_trouble,
    read_log,
    stop,
    wait_ready,
)
from benchmarks.delivery_bench import load_average
from benchmarks.engine_bench import (
    REPO,
    database_for,
    machine,
    percentile,
    postgres_admin_url,
    source_state,
    summary_ms,
)
from service.incidents.tables import IncidentRow
from service.intake.tables import ACCEPTED, MachineReportRow

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
AM_PATH = "/api/v2/alerts"
DUTYD_PATH = "/api/v1/intake/alertmanager"
SOURCE = "alertmanager"  # the source of config/intake.yaml, and its token's name
GOAL_RATIO = 0.25
GOAL_P99_S = 0.050
WARM_UP_SECONDS = 2.0
DRAIN_SECONDS = 180.0


# ---------------------------------------------------------------- the load generator


def _alert_labels(n_field: str, station_field: str) -> dict[str, str]:
    return {
        "alertname": "WaterLevelHigh",
        "event_type": "flood",
        "unit": "qingshan",
        "severity": "warning",
        "station": station_field,
        "instance": n_field,
    }


def body_template(kind: str, started: str) -> bytes:
    """One alert as JSON with `%d` for its number, its station and (dutyd) fingerprint."""
    labels = _alert_labels("i-@N@", "S@S@")
    annotations = {"summary": "bench alert @N@"}
    if kind == "alertmanager":
        payload: Any = [
            {
                "labels": labels,
                "annotations": annotations,
                "startsAt": started,
                "generatorURL": "http://prometheus/graph",
            }
        ]
    else:
        payload = {
            "version": "4",
            "groupKey": '{}:{alertname="WaterLevelHigh"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "dutyd",
            "groupLabels": {"alertname": "WaterLevelHigh"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": started,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph",
                    "fingerprint": "@F@",
                }
            ],
        }
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("%", "%%").replace("@N@", "%(n)d").replace("@S@", "%(s)d")
    return text.replace("@F@", "%(n)016x").encode()


@dataclass
class LoadSpec:
    port: int
    path: str
    kind: str  # "alertmanager" or "dutyd"
    seconds: float
    concurrency: int
    first: int  # the first request's number; the next generator's start far above
    groups: int
    token: str | None = None


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one HTTP/1.1 answer, read to its end; and whether it closes."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
        if length:
            await reader.readexactly(length)
    elif b"transfer-encoding: chunked" in head:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readexactly(2)
    return status, b"\r\nconnection: close" in head


async def generate(spec: LoadSpec) -> dict[str, Any]:
    """Closed-loop load: `concurrency` connections, one request in flight on each."""
    template = body_template(spec.kind, datetime.now(UTC).isoformat(timespec="seconds"))
    head = (
        f"POST {spec.path} HTTP/1.1\r\nHost: {HOST}:{spec.port}\r\n"
        "Content-Type: application/json\r\n"
        + (f"Authorization: Bearer {spec.token}\r\n" if spec.token else "")
        + "Content-Length: %d\r\n\r\n"
    ).encode()
    numbers = itertools.count(spec.first)
    latencies = array("d")
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    stop_at = time.perf_counter() + spec.seconds
    clock = time.perf_counter

    async def connection() -> None:
        reader = writer = None
        while clock() < stop_at:
            n = next(numbers)
            body = template % {b"n": n, b"s": n % spec.groups}
            request = head % len(body) + body
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, spec.port)
                assert reader is not None
                began = clock()
                writer.write(request)
                status, closes = await _read_answer(reader)
                latencies.append(clock() - began)
                statuses[status] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                closes = True
            if closes and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(spec.concurrency)))
    return {
        "seconds": time.perf_counter() - began,
        "cpu_seconds": time.process_time() - cpu,
        "latencies": [round(x, 6) for x in latencies],
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
    }


@dataclass
class Load:
    """What the generators measured together."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of 2xx answers only
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    generator_cpu: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(v for k, v in self.statuses.items() if k.startswith("2"))

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def run_load(spec: LoadSpec, generators: int) -> Load:
    """The load from `generators` processes at once, `spec.concurrency` connections in all."""
    shares = [
        spec.concurrency // generators + (i < spec.concurrency % generators)
        for i in range(generators)
    ]
    processes = []
    for i, share in enumerate(shares):
        part = {**vars(spec), "concurrency": share, "first": spec.first + i * 100_000_000}
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.intake_bench",
                "--generate",
                json.dumps(part),
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    load = Load()
    for process in processes:
        out, _ = await asyncio.wait_for(process.communicate(), spec.seconds + 120)
        if process.returncode != 0:
            raise SystemExit(f"a load generator failed ({process.returncode})")
        part = json.loads(out)
        load.seconds = max(load.seconds, part["seconds"])
        load.statuses.update(part["statuses"])
        load.errors.update(part["errors"])
        load.generator_cpu.append(part["cpu_seconds"])
        load.latencies.extend(part["latencies"])
    # Every answer is timed; what counts below is the rate of 2xx and their latency, so
    # a run with failures shows them apart rather than as fast answers.
    if load.ok != sum(load.statuses.values()):
        load.latencies = []  # mixed: not reported as the 2xx latency
    return load


# ---------------------------------------------------------------- the two servers


@dataclass
class Side:
    name: str
    load: Load
    server_cpu: float = 0.0
    load_average: str = ""
    warm_ok: int = 0
    stored: int | None = None
    incidents: int | None = None
    drain_seconds: float | None = None
    left_accepted: int | None = None
    notes: Counter[str] = field(default_factory=Counter)
    traceback: list[str] = field(default_factory=list)
    loop_cpu: float | None = None  # dutyd's event loop thread
    counted: dict[str, float] = field(default_factory=dict)  # dutyd's counters during load


def main_thread_cpu(pid: int) -> float:
    """CPU time of a process's first thread (the event loop, for dutyd), Linux."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alertmanager_config() -> dict[str, Any]:
    """Every alert to a receiver that sends nothing: what is measured is the API."""
    return {
        "route": {"receiver": "nowhere", "group_by": ["alertname", "station"]},
        "receivers": [{"name": "nowhere"}],
    }


async def bench_alertmanager(args: argparse.Namespace) -> Side:
    with tempfile.TemporaryDirectory(prefix="dutyd-intake-bench-am-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config()), encoding="utf-8")
        port = free_port()
        with open(tmp / "alertmanager.log", "wb") as log:  # noqa: ASYNC230 - before any load
            process = await asyncio.create_subprocess_exec(
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        try:
            await wait_http(f"http://{HOST}:{port}/-/ready", process)
            spec = LoadSpec(
                port, AM_PATH, "alertmanager", WARM_UP_SECONDS, args.concurrency, 0, args.groups
            )
            warm = await run_load(spec, args.generators)
            spec.seconds, spec.first = args.seconds, 1_000_000_000
            average, server = load_average(), cpu_seconds(process.pid)
            load = await run_load(spec, args.generators)
            side = Side("Alertmanager", load, cpu_seconds(process.pid) - server, average)
            side.warm_ok = warm.ok
            return side
        finally:
            await stop(process)


async def wait_http(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        for _ in range(200):
            if process.returncode is not None:
                raise SystemExit(f"{url}: the server exited ({process.returncode})")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} not ready within 20 s")


def intake_file(tmp: Path) -> Path:
    """The repository's intake rules, the alertmanager source let go as fast as it can."""
    rules = yaml.safe_load((REPO / "config" / "intake.yaml").read_text(encoding="utf-8"))
    rules["sources"][SOURCE]["rate_per_minute"] = 10_000_000
    path = tmp / "intake.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


async def source_token(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        dutyd_command(),
        "token",
        "create",
        "--role",
        "source",
        SOURCE,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise SystemExit(f"dutyd token create failed:\n{err.decode(errors='replace')}")
    return out.decode().strip().splitlines()[-1]


@asynccontextmanager
async def served_daemon(
    env: dict[str, str], port: int, log: Path, profile: Path | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`dutyd serve` on `port` (under cProfile into `profile` if given), its output in
    `log`, ready to answer; stopped afterwards."""
    command = [dutyd_command(), "serve", "--host", HOST, "--port", str(port)]
    if profile is not None:
        command = [
            sys.executable, "-m", "benchmarks.intake_bench",
            "--profiled-daemon", str(profile), *command[1:],
        ]  # fmt: skip
    with open(log, "wb") as log_file:  # noqa: ASYNC230 - opened once, before any load
        process = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=REPO, stdout=log_file, stderr=asyncio.subprocess.STDOUT
        )
        try:
            await wait_ready(f"http://{HOST}:{port}", process, log)
            yield process
        finally:
            await stop(process)


async def bench_dutyd(backend: str, args: argparse.Namespace, postgres_url: str | None) -> Side:
    with tempfile.TemporaryDirectory(prefix="dutyd-intake-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with database_for(backend, tmp, postgres_url, "dutyd_bench_intake") as url:
            env = daemon_environment(tmp, url if backend == "postgres" else None)
            env["DUTYD_INTAKE_FILE"] = str(intake_file(tmp))
            env["DUTYD_HTTP_WORKERS"] = str(args.workers)
            if args.daemon_path:  # e.g. a directory with uvloop and httptools: uvicorn uses them
                env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{args.daemon_path}"
            token = await source_token(env)
            port = free_port()
            profile = args.profile / f"dutyd-{backend}.prof" if args.profile else None
            log = tmp / "dutyd.log"
            async with served_daemon(env, port, log, profile) as process:
                spec = LoadSpec(
                    port,
                    DUTYD_PATH,
                    "dutyd",
                    WARM_UP_SECONDS,
                    args.concurrency,
                    0,
                    args.groups,
                    token,
                )
                warm = await run_load(spec, args.generators)
                spec.seconds, spec.first = args.seconds, 1_000_000_000
                average, server = load_average(), cpu_seconds(process.pid)
                loop = main_thread_cpu(process.pid)
                if profile is not None:
                    process.send_signal(signal.SIGUSR1)
                # With several workers /metrics is one worker's, the first thread uvicorn's.
                one_process = args.workers == 1
                before = await daemon_counters(port) if one_process else {}
                load = await run_load(spec, args.generators)
                if profile is not None:
                    process.send_signal(signal.SIGUSR2)
                name = f"dutyd ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})"
                side = Side(name, load, cpu_seconds(process.pid) - server, average)
                if one_process:
                    after = await daemon_counters(port)
                    side.counted = {k: after[k] - before.get(k, 0.0) for k in after}
                    side.loop_cpu = main_thread_cpu(process.pid) - loop
                side.warm_ok = warm.ok
                await check_database(url, side)
            side.notes, side.traceback = log_trouble(read_log(log))
            if profile is not None and profile.exists():
                print_profile(profile)
    return side


COUNTERS = (
    "dutyd_engine_runs_total",
    "dutyd_machine_report_commits_total",
    "dutyd_engine_reports_passes_total",
)


async def daemon_counters(port: int) -> dict[str, float]:
    """The daemon's own counts of engine passes and group commits, from /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{HOST}:{port}/metrics")).text
    return {
        name: float(line.split()[-1])
        for line in text.splitlines()
        for name in COUNTERS
        if line.startswith(name + " ")
    }


async def check_database(url: str, side: Side) -> None:
    """Every 2xx must be a stored report; then wait for the engine to work them all."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            side.stored = int(
                await connection.scalar(
                    select(func.count()).where(MachineReportRow.source == SOURCE)
                )
                or 0
            )
        began = time.perf_counter()
        while time.perf_counter() - began < DRAIN_SECONDS:
            async with engine.connect() as connection:
                side.left_accepted = int(
                    await connection.scalar(
                        select(func.count()).where(MachineReportRow.state == ACCEPTED)
                    )
                    or 0
                )
            if side.left_accepted == 0:
                side.drain_seconds = time.perf_counter() - began
                break
            await asyncio.sleep(0.5)
        async with engine.connect() as connection:
            side.incidents = int(
                await connection.scalar(select(func.count()).select_from(IncidentRow)) or 0
            )
    finally:
        await engine.dispose()


def profiled_daemon(out: Path, argv: list[str]) -> None:
    """`dutyd ARGV`, profiled (cProfile, its event loop's thread) from SIGUSR1 to SIGUSR2,
    when the figures are written to `out`: the measured load, not start-up."""
    import cProfile

    profile = cProfile.Profile()

    def stop(*_: object) -> None:
        profile.disable()
        profile.dump_stats(str(out))

    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["dutyd", *argv]
    from service.cli import main as dutyd_main

    dutyd_main()


def package_of(filename: str) -> str:
    if filename.startswith(str(REPO / "service")):
        return "service/" + filename[len(str(REPO / "service")) + 1 :].split("/")[0]
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if filename.startswith("{") or filename.startswith("<"):
        return "builtins / C"
    return "stdlib: " + Path(filename).stem


def print_profile(path: Path, top: int = 25) -> None:
    """Own time (cProfile's tottime), by package and by function. Own time is what a
    function spends in its own frame, so it adds up even for coroutines, whose call
    counts and cumulative times cProfile cannot give (every resumption is a call)."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    idle = sum(t for (f, _, name), (_, _, t, _, _) in stats.items() if "poll" in name)
    total = sum(t for _, _, t, _, _ in stats.values()) - idle
    by_package: Counter[str] = Counter()
    for (filename, _, name), (_, _, own, _, _) in stats.items():
        if "poll" not in name:
            by_package[package_of(filename)] += own
    print(f"\n-- cProfile of the daemon ({path}): {total:.1f} s busy, {idle:.1f} s in epoll --")
    for package, own in by_package.most_common(top):
        print(f"  {100 * own / total:5.1f} %  {package}")
    print("  -- functions by own time --")
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])
    for (filename, line, name), (_, _, own, _, _) in ranked[: top + 1]:
        if "poll" not in name:
            where = filename.replace(str(REPO) + "/", "").split("site-packages/")[-1]
            print(f"  {100 * own / total:5.1f} %  {where}:{line}({name})")


# ---------------------------------------------------------------- the report


def describe(side: Side, args: argparse.Namespace) -> None:
    load = side.load
    failed = sum(load.statuses.values()) - load.ok
    print(
        f"\n== {side.name}: {args.concurrency} connections, {args.generators} generator(s)"
        + (
            f", {args.workers} daemon processes"
            if args.workers > 1 and side.stored is not None
            else ""
        )
        + " =="
    )
    print(
        f"  {load.ok} answered 2xx in {load.seconds:.1f} s = {load.rate:.0f} requests/s"
        + (f"; {failed} not 2xx: {dict(load.statuses)}" if failed else "")
        + (f"; transport errors {dict(load.errors)}" if load.errors else "")
    )
    print(f"  latency   {summary_ms(load.latencies)}")
    requests = max(1, sum(load.statuses.values()))
    generator = sum(load.generator_cpu)
    busiest = max(load.generator_cpu, default=0.0) / load.seconds if load.seconds else 0.0
    print(
        f"  CPU: server {side.server_cpu:.1f} s ({1e6 * side.server_cpu / requests:.0f} µs a "
        f"request, {side.server_cpu / load.seconds:.0%} of a core"
        + (
            f", its event loop's thread {side.loop_cpu / load.seconds:.0%}"
            if side.loop_cpu is not None
            else ""
        )
        + f"); load generator "
        f"{generator:.1f} s ({1e6 * generator / requests:.0f} µs a request, busiest process "
        f"{busiest:.0%} of a core); load average before: {side.load_average}"
    )
    if side.counted:
        passes = side.counted.get(COUNTERS[0], 0.0)
        commits = side.counted.get(COUNTERS[1], 0.0)
        reports_passes = side.counted.get(COUNTERS[2], 0.0)
        print(
            f"  daemon: {passes / load.seconds:.0f} engine passes/s and"
            f" {reports_passes / load.seconds:.0f} over reports alone, {commits / load.seconds:.0f}"
            f" group commits/s ({requests / max(commits, 1):.1f} requests a commit)"
        )
    if side.stored is not None:
        expected = side.warm_ok + load.ok
        verdict = "every 2xx stored" if side.stored == expected else "** MISMATCH **"
        if side.stored > expected:
            verdict = "every 2xx stored, and some answered otherwise (stored anyway)"
        print(
            f"  machine reports stored: {side.stored}, 2xx answers {expected} "
            f"({side.warm_ok} of them warm-up): {verdict}"
        )
        drained = (
            f"all worked {side.drain_seconds:.1f} s after the load stopped"
            if side.drain_seconds is not None
            else f"{side.left_accepted} NOT worked {DRAIN_SECONDS:.0f} s after the load"
        )
        print(f"  engine: {drained}; incidents {side.incidents} (expected {args.groups})")
    for what, count in sorted(side.notes.items()):
        print(f"  daemon log: {what}: {count}")
    if side.traceback:
        print("  the first traceback in the daemon's log:")
        for line in [*side.traceback[:8], "…", *side.traceback[-6:]]:
            print(f"    {line[:200]}")


def compare(am: Side, dutyd: Side, groups: int) -> None:
    ratio = dutyd.load.rate / am.load.rate if am.load.rate else 0.0
    p99 = percentile(dutyd.load.latencies, 99)
    stored = dutyd.stored == dutyd.warm_ok + dutyd.load.ok
    met = ratio >= GOAL_RATIO and p99 < GOAL_P99_S and stored and dutyd.incidents == groups
    print(
        f"\n{dutyd.name} / Alertmanager: {dutyd.load.rate:.0f} / {am.load.rate:.0f} requests/s "
        f"= {ratio:.2f}; dutyd p99 {p99 * 1000:.1f} ms (Alertmanager "
        f"{percentile(am.load.latencies, 99) * 1000:.1f} ms). Goal ratio >= {GOAL_RATIO} with "
        f"p99 < {GOAL_P99_S * 1000:.0f} ms, every 2xx stored and {groups} incidents: "
        f"{'met' if met else 'MISSED'}"
    )


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    postgres_url = postgres_admin_url(args.postgres_url)
    if "postgres" in backends and postgres_url is None:
        raise SystemExit("no PostgreSQL server configured (see --help)")
    print(f"machine: {machine()}; {source_state()}; load average {load_average()}")
    print(
        f"{args.seconds:.0f} s of load each, after {WARM_UP_SECONDS:.0f} s of warm-up; one "
        f"distinct alert a request; {args.groups} alert groups"
    )
    am = await bench_alertmanager(args)
    describe(am, args)
    for backend in backends:
        side = await bench_dutyd(backend, args, postgres_url)
        describe(side, args)
        compare(am, side, args.groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16, help="connections in all")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--groups", type=int, default=20, help="alert groups (incidents)")
    parser.add_argument("--workers", type=int, default=1, help="http_workers of the daemon")
    parser.add_argument("--profile", default=None, help="run the daemon under cProfile here")
    parser.add_argument(
        "--daemon-path",
        default=None,
        help="more of the daemon's PYTHONPATH (pip install --target DIR uvloop httptools)",
    )
    parser.add_argument("--profiled-daemon", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--postgres-url", default=None, help="server to create a database in")
    parser.add_argument("--generate", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.profiled_daemon:
        profiled_daemon(Path(args.profiled_daemon), rest)
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.profile:
        args.profile = Path(args.profile).resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.generate:
        result = asyncio.run(generate(LoadSpec(**json.loads(args.generate))))
        json.dump(result, sys.stdout)
        return
    if not (0 < args.seconds <= 600 and 1 <= args.generators <= args.concurrency <= 2000):
        raise SystemExit("--seconds in (0, 600], 1 <= --generators <= --concurrency <= 2000")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
