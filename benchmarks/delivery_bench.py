"""Benchmark delivery: outbox throughput, and incident-to-first-SMS latency of a real daemon.

Run with `python -m benchmarks.delivery_bench [--part throughput|latency|both]`.

Throughput. For each backend and each `engine_batch_size`: a fresh database and a Dutyd
with the real system clock and a recording transport (sending costs nothing, so what is
measured is the outbox and the database). N pending SMS rows, due now, with distinct people
and numbers, are bulk-inserted; by default each is about one incident logged beforehand (as
escalation pages are, so each result also writes a timeline entry), with `--standalone`
they are about none (as shift reminders and roster notices are). The delivery policy is
opened wide (digest threshold 1,000, 100,000 a minute per person) so that each message is
sent on its own. Then one `Outbox.deliver_due()` is timed until it returns: claim, send,
record, batch after batch. Every message must have reached the transport and be recorded
delivered, or the run is reported as failed.

Latency. `dutyd serve` runs as a subprocess on a free port of 127.0.0.1 (see
`benchmarks.api_bench`), with Twilio configured to an in-process `tests.fakes.twilio.
FakeTwilio`, digests and the rate limit at the highest values settings allow (100 and 600
a minute). A few warm-up incidents are logged and their SMS awaited; then M incidents with
unique titles are POSTed at a steady pace by a few concurrent clients. For each, the time
from just before its POST is sent to the first SMS whose body carries its title being
accepted by the fake is taken (both clocks are this process's).

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, update

from benchmarks.api_bench import (
    HOST,
    create_token,
    daemon_environment,
    dutyd_command,
    free_port,
    read_log,
    stop,
    wait_ready,
)
from benchmarks.engine_bench import (
    database_for,
    isolate_environment,
    machine,
    percentile,
    postgres_admin_url,
    source_state,
    summary_ms,
)
from service.app import Dutyd
from service.catalog import Category, Channel, Level
from service.clock import SystemClock
from service.flows.incidents import report_incident
from service.incidents.models import IncidentReport
from service.incidents.tables import TimelineEntryRow
from service.logs import configure_logging
from service.notify.outbox import DeliveryPolicy
from service.notify.tables import MessageRow, MessageState
from service.process import tune_garbage_collector
from tests.conftest import make_settings
from tests.fakes.recording import RecordingTransport
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

GOAL_RATE = {"sqlite": 2_000.0, "postgres": 5_000.0}
GOAL_P99_S = 1.0
INSERT_CHUNK = 5_000
WIDE_OPEN = DeliveryPolicy(
    digest_threshold=1000, rate_limit_per_minute=100_000, digest_gather=timedelta(0)
)
TITLE_PREFIX = "dbench-"
TITLE = re.compile(re.escape(TITLE_PREFIX) + r"(\d{5})")
WARM_UP = 5
POLL_S = 0.005
PROGRESS_S = 30.0
SKIPPED_WAKE = "skipped: maximum number of running instances reached"


# ---------------------------------------------------------------- throughput


@dataclass
class Throughput:
    backend: str
    batch_size: int
    messages: int
    processes: int = 1
    attempted: int = 0
    seconds: float = 0.0
    handed_over: int = 0
    delivered: int = 0
    timeline_entries: int = 0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.attempted == self.handed_over == self.delivered == self.messages

    @property
    def rate(self) -> float:
        return self.handed_over / self.seconds if self.seconds else 0.0


async def log_incident(dutyd: Dutyd) -> int:
    """One incident for the messages to be about; what it queued itself counts as sent."""
    async with dutyd.sessions.begin() as session:
        row, _ = await report_incident(
            session,
            IncidentReport(
                category=Category.accident_disaster,
                event_type="road_traffic",
                level=Level.IV,
                unit="hexi",
                title="delivery benchmark",
            ),
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            reporter="bench",
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
        incident_id = row.id
    async with dutyd.sessions.begin() as session:
        await session.execute(
            update(MessageRow)
            .where(MessageRow.state == MessageState.pending)
            .values(state=MessageState.delivered, sent_at=MessageRow.created_at)
        )
    return incident_id


async def insert_messages(dutyd: Dutyd, count: int, incident_id: int | None) -> None:
    """`count` pending SMS, due now, each to a different person and number."""
    now = dutyd.clock.now()
    rows = [
        {
            "incident_id": incident_id,
            "person_id": f"bench-{n:06d}",
            "channel": Channel.sms.value,
            "address": f"+86139{n:08d}",
            "subject": "",
            "body": f"【临江市】交通事故：delivery benchmark message {n}。请立即确认。",
            "state": MessageState.pending,
            "due_at": now,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
        }
        for n in range(count)
    ]
    for start in range(0, count, INSERT_CHUNK):
        async with dutyd.sessions.begin() as session:
            await session.execute(insert(MessageRow), rows[start : start + INSERT_CHUNK])


async def show_progress(transport: RecordingTransport, label: str) -> None:
    began = time.perf_counter()
    while True:
        await asyncio.sleep(PROGRESS_S)
        done = len(transport.sent)
        elapsed = time.perf_counter() - began
        rate = done / elapsed
        print(f"  [{label} +{elapsed:.0f} s] {done} handed over ({rate:.0f}/s)", flush=True)


async def throughput_run(
    backend: str,
    batch_size: int,
    messages: int,
    *,
    standalone: bool,
    max_seconds: float,
    postgres_url: str | None,
    processes: int = 1,
) -> Throughput:
    result = Throughput(
        backend=backend, batch_size=batch_size, messages=messages, processes=processes
    )
    with tempfile.TemporaryDirectory(prefix="dutyd-delivery-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with database_for(backend, tmp, postgres_url, "dutyd_bench_delivery") as url:
            transport = RecordingTransport()
            settings = make_settings(
                tmp,
                database_url=url,
                worker_name="bench",
                engine_batch_size=batch_size,
                shift_reminder_hours=0,
            )
            dutyd = Dutyd(
                settings,
                clock=SystemClock(),
                transports={
                    Channel.sms: transport,
                    Channel.email: transport,
                    Channel.voice: transport,
                },
            )
            await dutyd.start()
            tune_garbage_collector()  # as `dutyd serve` does once started
            try:
                outbox = dutyd.engine.outbox
                outbox.policy = WIDE_OPEN  # settings cap these below what is wanted here
                incident_id = None if standalone else await log_incident(dutyd)
                await insert_messages(dutyd, messages, incident_id)
                transport.sent.clear()
                label = f"{backend}, batch {batch_size}"
                helpers = [await start_helper(url, batch_size) for _ in range(processes - 1)]
                progress = asyncio.create_task(show_progress(transport, label))
                began = time.perf_counter()
                try:
                    async with asyncio.timeout(max_seconds):
                        for helper in helpers:  # all at once: each waits for this line
                            assert helper.stdin is not None
                            helper.stdin.write(b"go\n")
                        attempted, helped = await asyncio.gather(
                            outbox.deliver_due(), gather_helpers(helpers)
                        )
                        result.attempted = attempted + sum(n for n, _ in helped)
                        extra_handed_over = sum(n for _, n in helped)
                except TimeoutError:
                    result.timed_out = True
                    extra_handed_over = 0
                    for helper in helpers:
                        helper.kill()
                finally:
                    result.seconds = time.perf_counter() - began
                    progress.cancel()
                result.handed_over = len(transport.sent) + extra_handed_over
                async with dutyd.sessions() as session:
                    result.delivered = int(
                        await session.scalar(
                            select(func.count())
                            .select_from(MessageRow)
                            .where(
                                MessageRow.state == MessageState.delivered,
                                MessageRow.person_id.like("bench-%"),
                            )
                        )
                        or 0
                    )
                    result.timeline_entries = int(
                        await session.scalar(
                            select(func.count())
                            .select_from(TimelineEntryRow)
                            .where(TimelineEntryRow.kind == "message_sent")
                        )
                        or 0
                    )
            finally:
                await dutyd.stop()
    return result


async def start_helper(url: str, batch_size: int) -> asyncio.subprocess.Process:
    """Another dutyd process on the same database, ready to drain the outbox on "go"."""
    helper = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.delivery_bench",
        "--helper-of",
        url,
        "--batch-sizes",
        str(batch_size),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert helper.stdout is not None
    line = await helper.stdout.readline()
    if line.strip() != b"ready":
        raise SystemExit(f"a helper process did not start: {line!r}")
    return helper


async def gather_helpers(helpers: list[asyncio.subprocess.Process]) -> list[tuple[int, int]]:
    """(attempted, handed over) of each helper, once it has drained what it could."""
    counts = []
    for helper in helpers:
        out, _ = await helper.communicate()
        attempted, handed_over = out.split()
        counts.append((int(attempted), int(handed_over)))
    return counts


async def helper_main(url: str, batch_size: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dutyd-delivery-helper-") as tmp_name:
        transport = RecordingTransport()
        settings = make_settings(
            Path(tmp_name),
            database_url=url,
            worker_name=f"helper-{os.getpid()}",
            engine_batch_size=batch_size,
            shift_reminder_hours=0,
        )
        channels = {Channel.sms: transport, Channel.email: transport, Channel.voice: transport}
        dutyd = Dutyd(settings, clock=SystemClock(), transports=channels)
        await dutyd.start()
        tune_garbage_collector()  # as `dutyd serve` does once started
        try:
            dutyd.engine.outbox.policy = WIDE_OPEN
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            attempted = await dutyd.engine.outbox.deliver_due()
            print(attempted, len(transport.sent), flush=True)
        finally:
            await dutyd.stop()


def report_throughput(results: Sequence[Throughput], standalone: bool) -> None:
    what = "about no incident" if standalone else "about one incident (a timeline entry each)"
    print(f"\n== outbox throughput: pending SMS {what}, recording transport ==")
    for backend in dict.fromkeys(r.backend for r in results):
        runs = [r for r in results if r.backend == backend]
        for r in runs:
            check = (
                "all delivered"
                if r.ok
                else f"** TIMED OUT: {r.handed_over} of {r.messages} handed over **"
                if r.timed_out
                else f"** attempted {r.attempted}, handed over {r.handed_over}, "
                f"delivered {r.delivered} of {r.messages} **"
            )
            print(
                f"  {backend:8} engine_batch_size={r.batch_size:<5} processes={r.processes} "
                f"{r.messages} messages in "
                f"{r.seconds:6.2f} s = {r.rate:7.0f} messages/s  ({check}; "
                f"{r.timeline_entries} timeline entries)"
            )
        # A run cut short by --max-seconds still shows its rate; one that lost messages not.
        valid = [r for r in runs if r.ok or (r.timed_out and r.handed_over == r.delivered)]
        best = max(valid, key=lambda r: r.rate, default=None)
        goal = GOAL_RATE[backend]
        if best is None:
            print(f"  {backend}: no run delivered what it handed over")
            continue
        verdict = "met" if best.rate >= goal else f"MISSED ({best.rate / goal:.0%} of it)"
        print(
            f"  {backend}: best {best.rate:.0f} messages/s at engine_batch_size="
            f"{best.batch_size}{' (cut short)' if best.timed_out else ''}; "
            f"goal {goal:.0f}/s {verdict}"
        )


# ---------------------------------------------------------------- latency


@dataclass
class Latency:
    backend: str
    incidents: int
    rate: float
    concurrency: int
    posted: dict[int, float] = field(default_factory=dict)
    first_sms: dict[int, float] = field(default_factory=dict)
    api: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sms_seen: int = 0
    log_errors: list[str] = field(default_factory=list)
    skipped_wakes: int = 0
    shutdown_tracebacks: int = 0

    @property
    def latencies(self) -> list[float]:
        return [self.first_sms[n] - t for n, t in self.posted.items() if n in self.first_sms]


def incident_body(n: int) -> dict[str, str]:
    return {
        "category": "accident_disaster",
        "event_type": "road_traffic",
        "level": "IV",
        "unit": "hexi",
        "title": f"{TITLE_PREFIX}{n:05d}",
    }


class SmsWatch:
    """Reads what the fake accepted, in order: the first arrival time of each title."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.seen = 0
        self.first: dict[int, float] = {}

    def scan(self) -> None:
        sent = self.fake.sent
        while self.seen < len(sent):
            sms = sent[self.seen]
            self.seen += 1
            at = sms.date_sent.timestamp()
            for number in TITLE.findall(sms.body):
                n = int(number)
                self.first[n] = min(self.first.get(n, at), at)

    async def wait_for(self, wanted: set[int], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.scan()
            if wanted <= self.first.keys():
                return True
            await asyncio.sleep(POLL_S)
        self.scan()
        return wanted <= self.first.keys()


async def post_incidents(
    client: httpx.AsyncClient, result: Latency, numbers: Sequence[int]
) -> None:
    """POST each incident no earlier than its slot (start + i / rate), `concurrency` at once."""
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    start = time.monotonic() + 0.2
    for i, n in enumerate(numbers):
        queue.put_nowait((n, start + i / result.rate))

    async def worker() -> None:
        while not queue.empty():
            n, slot = queue.get_nowait()
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
            sent_at = datetime.now(UTC).timestamp()
            began = time.perf_counter()
            try:
                response = await client.post("/api/v1/incidents", json=incident_body(n))
            except httpx.HTTPError as exc:
                result.failures.append(f"incident {n}: {exc!r}")
                continue
            if response.status_code != 201:
                result.failures.append(f"incident {n}: HTTP {response.status_code}")
                continue
            result.posted[n] = sent_at
            result.api.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(result.concurrency)))


async def latency_run(
    backend: str,
    *,
    incidents: int,
    rate: float,
    concurrency: int,
    wait: float,
    postgres_url: str | None,
) -> Latency:
    result = Latency(backend=backend, incidents=incidents, rate=rate, concurrency=concurrency)
    fake = FakeTwilio()
    await fake.start()
    try:
        with tempfile.TemporaryDirectory(prefix="dutyd-delivery-bench-") as tmp_name:
            data_dir = Path(tmp_name)
            async with database_for(backend, data_dir, postgres_url, "dutyd_bench_latency") as url:
                setting = url if backend == "postgres" else None
                await run_daemon(result, fake, data_dir, setting, wait)
    finally:
        await fake.stop()
    return result


async def run_daemon(
    result: Latency, fake: FakeTwilio, data_dir: Path, database_url: str | None, wait: float
) -> None:
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    env = daemon_environment(data_dir, database_url)
    env.update(
        DUTYD_CONFIG="/nonexistent/dutyd-bench-settings.yaml",
        DUTYD_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        DUTYD_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        DUTYD_TWILIO_FROM_NUMBER=FROM_NUMBER,
        DUTYD_TWILIO_API_BASE_URL=fake.url,
        DUTYD_PUBLIC_BASE_URL=base_url,
        # The highest the settings allow (Settings: digest_threshold <= 100,
        # rate_limit_per_minute <= 600): the load below stays under both per person.
        DUTYD_DIGEST_THRESHOLD="100",
        DUTYD_RATE_LIMIT_PER_MINUTE="600",
    )
    token = await create_token(env)
    log = data_dir / "dutyd.log"
    watch = SmsWatch(fake)
    with open(log, "wb") as log_file:  # noqa: ASYNC230 - opened once, before any load
        process = await asyncio.create_subprocess_exec(
            dutyd_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            env=env,
            cwd=data_dir,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await wait_ready(base_url, process, log)
            async with httpx.AsyncClient(
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}"},
                limits=httpx.Limits(max_connections=result.concurrency),
                timeout=30.0,
            ) as client:
                # Warm-up, not counted: imports, first connections, the first SMS.
                warm = list(range(99_999, 99_999 - WARM_UP, -1))
                for n in warm:
                    response = await client.post("/api/v1/incidents", json=incident_body(n))
                    response.raise_for_status()
                if not await watch.wait_for(set(warm), 60):
                    raise SystemExit(f"warm-up SMS never came:\n{read_log(log)[-4000:]}")
                numbers = list(range(result.incidents))
                await post_incidents(client, result, numbers)
                if not await watch.wait_for(set(result.posted), wait):
                    result.failures.append(f"some SMS did not arrive within {wait:.0f} s")
        finally:
            running_log = len(read_log(log))  # what follows is the shutdown
            await stop(process)
    result.first_sms = {n: at for n, at in watch.first.items() if n in result.posted}
    result.sms_seen = len(fake.sent)
    text = read_log(log)
    for line in text[:running_log].splitlines():
        if SKIPPED_WAKE in line:
            result.skipped_wakes += 1
        elif any(word in line.lower() for word in ("error", "exception", "traceback")):
            result.log_errors.append(line)
    result.shutdown_tracebacks = text[running_log:].count("Traceback")


def report_latency(result: Latency) -> None:
    print(
        f"\n== latency, {result.backend}: {result.incidents} incidents POSTed at "
        f"{result.rate:.0f}/s by {result.concurrency} clients to `dutyd serve`, Twilio fake =="
    )
    latencies = result.latencies
    print(f"  POST answered (201)           {summary_ms(result.api)}")
    print(f"  POST sent -> first SMS at fake {summary_ms(latencies)}")
    missing = len(result.posted) - len(latencies)
    print(
        f"  {len(result.posted)} incidents logged, {len(latencies)} with an SMS, {missing} "
        f"without; {result.sms_seen} SMS accepted by the fake in all"
    )
    for failure in result.failures[:5]:
        print(f"  ** {failure}")
    if result.skipped_wakes:
        print(
            f"  {result.skipped_wakes} wake-ups skipped by APScheduler because a pass was "
            "running (what that pass had not seen waited for the next safety tick)"
        )
    if result.shutdown_tracebacks:
        print(
            f"  {result.shutdown_tracebacks} tracebacks in the daemon's log after SIGTERM "
            "(passes under way cancelled at shutdown)"
        )
    for line in result.log_errors[:5]:
        print(f"  daemon log: {line[:200]}")
    if latencies:
        p99 = percentile(latencies, 99)
        verdict = "met" if p99 < GOAL_P99_S and not missing else "MISSED"
        print(f"  goal p99 < {GOAL_P99_S:.0f} s with every incident paged: {verdict}")


# ---------------------------------------------------------------- main


def load_average() -> str:
    """Other work on the machine skews every figure here: say how much there was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    postgres_url = postgres_admin_url(args.postgres_url)
    if "postgres" in backends and postgres_url is None:
        if args.backend == "postgres":
            raise SystemExit("no PostgreSQL server configured (see --help)")
        print("no PostgreSQL server configured: SQLite only")
        backends = ["sqlite"]
    print(f"machine: {machine()}; {source_state()}; load average {load_average()}")
    if args.part in ("throughput", "both"):
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
        results = []
        for backend in backends:
            for batch_size in batch_sizes:
                run = await throughput_run(
                    backend,
                    batch_size,
                    args.messages,
                    standalone=args.standalone,
                    max_seconds=args.max_seconds,
                    postgres_url=postgres_url,
                    processes=args.processes if backend == "postgres" else 1,
                )
                print(f"  [{backend}, batch {batch_size}] {run.rate:.0f} messages/s", flush=True)
                results.append(run)
        report_throughput(results, args.standalone)
    if args.part in ("latency", "both"):
        for backend in backends:
            result = await latency_run(
                backend,
                incidents=args.incidents,
                rate=args.rate,
                concurrency=args.concurrency,
                wait=args.wait,
                postgres_url=postgres_url,
            )
            report_latency(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["throughput", "latency", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=20_000, help="throughput: rows queued")
    parser.add_argument(
        "--batch-sizes", default="100,500,1000", help="throughput: engine_batch_size values"
    )
    parser.add_argument(
        "--standalone", action="store_true", help="throughput: messages about no incident"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=900.0,
        help="throughput: give up on a run after this long (the rate so far is reported)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="throughput, PostgreSQL: dutyd processes draining the one outbox together",
    )
    parser.add_argument("--helper-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--incidents", type=int, default=300, help="latency: incidents POSTed")
    parser.add_argument("--rate", type=float, default=5.0, help="latency: incidents per second")
    parser.add_argument("--concurrency", type=int, default=4, help="latency: concurrent clients")
    parser.add_argument(
        "--wait", type=float, default=120.0, help="latency: seconds to wait for the last SMS"
    )
    parser.add_argument("--postgres-url", default=None, help="server to create databases in")
    parser.add_argument("--log-level", default="WARNING", help="log level in this process")
    args = parser.parse_args()
    if not (0 < args.messages <= 1_000_000 and 0 < args.incidents <= 10_000):
        raise SystemExit("--messages must be in (0, 1e6] and --incidents in (0, 10000]")
    if not (0 < args.rate <= 1000 and 0 < args.wait <= 600 and args.concurrency >= 1):
        raise SystemExit("--rate in (0, 1000], --wait in (0, 600], --concurrency >= 1")
    isolate_environment()
    configure_logging(args.log_level)
    if args.helper_of:
        asyncio.run(helper_main(args.helper_of, int(args.batch_sizes.split(",")[0])))
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
