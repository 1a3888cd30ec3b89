"""Benchmark the escalation engine: how late is due work done, with 10,000 open incidents?

Run with `python -m benchmarks.engine_bench [--backend sqlite|postgres|both]`.

For each backend: a fresh database, a Dutyd with the real system clock and a recording
transport (sending costs nothing, so what is measured is dutyd itself). N incidents are
logged through `report_incident`, in a few large transactions; the messages they queue at
once are marked sent, so the run starts with a clean outbox. Then every incident's pending
escalation step and its first report duty (the reminder of the initial report) are moved
to fall due at random instants spread over a window a few seconds ahead; the incidents'
other duties are moved a day out, so the wall-clock time of the run cannot bring more work
into the window. The engine then runs as in production (`Dutyd.run_scheduler()`: a safety
tick every `engine_poll_seconds` plus a wake-up at the next due time) until nothing due
is left, and lateness is read back from the database:

- steps: `fired_at - due_at`. `fired_at` is the clock at the start of the batch (up to
  `engine_batch_size` steps in one transaction), so this shows when the engine got to it,
  not when the batch committed;
- report reminders: the `report_reminder` timeline entry's time minus the duty's `next_at`;
- messages: `sent_at - due_at` (the outbox's own delay after the row was queued);
- pages, end to end: a step's messages' `sent_at - ` the step's `due_at`, the time a person
  actually waits past the deadline. This is the figure the 1 s goal is about.

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import aliased

from service.app import Dutyd
from service.catalog import EVENT_TYPES, Category, Channel, Level
from service.clock import SystemClock
from service.escalation.tables import EscalationStepRow, StepState
from service.flows.incidents import report_incident
from service.incidents.models import IncidentReport
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.logs import configure_logging
from service.notify.tables import MessageEventRow, MessageRow, MessageState
from service.process import tune_garbage_collector
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from tests.conftest import make_settings
from tests.fakes.recording import RecordingTransport

REPO = Path(__file__).resolve().parent.parent
PGURL_FILE = Path("/tmp/pgurl")
SEED = 20260715
LATENESS_GOAL_S = 1.0
LOAD_BATCH = 500  # incidents per loading transaction
UNLIMITED = 10**9


# ---------------------------------------------------------------- shared helpers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of `values` (0 < q <= 100); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_s: Sequence[float]) -> str:
    """`n=…  p50=…  p99=…  max=…` in milliseconds, for values given in seconds."""
    if not values_s:
        return "n=0"
    ms = [v * 1000 for v in values_s]
    return (
        f"n={len(ms):>6}  p50={percentile(ms, 50):8.1f} ms  p99={percentile(ms, 99):8.1f} ms  "
        f"max={max(ms):8.1f} ms"
    )


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def source_state() -> str:
    """The commit measured, and whether the work tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "service"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"source in {REPO} (not a git work tree)"
    return f"commit {head}" + (" with uncommitted changes under service/" if dirty else "")


def isolate_environment() -> None:
    """No developer settings file or DUTYD_* variable changes what is measured."""
    for name in list(os.environ):
        if name.startswith("DUTYD_") and name not in (
            "DUTYD_BENCH_POSTGRES_URL",
            "DUTYD_TEST_POSTGRES_URL",
        ):
            del os.environ[name]
    os.environ["DUTYD_CONFIG"] = "/nonexistent/dutyd-bench-settings.yaml"


def postgres_admin_url(given: str | None = None) -> str | None:
    """The PostgreSQL server to create benchmark databases in, if one is configured."""
    for candidate in (
        given,
        os.environ.get("DUTYD_BENCH_POSTGRES_URL"),
        os.environ.get("DUTYD_TEST_POSTGRES_URL"),
    ):
        if candidate:
            return candidate
    if PGURL_FILE.is_file():
        return PGURL_FILE.read_text().strip() or None
    return None


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_postgres_database(admin_url: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@asynccontextmanager
async def database_for(
    backend: str, tmp: Path, postgres_url: str | None, prefix: str
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'dutyd.db'}"
        return
    if postgres_url is None:
        raise SystemExit(
            "no PostgreSQL server: give --postgres-url or DUTYD_BENCH_POSTGRES_URL, "
            "or start one with scripts/postgres start DIR PORT"
        )
    async with fresh_postgres_database(postgres_url, prefix) as url:
        yield url


# ---------------------------------------------------------------- the engine benchmark


@dataclass
class Scenario:
    due_incidents: int
    window_seconds: float
    run_seconds: float = 0.0
    finished: bool = False
    steps: list[float] = field(default_factory=list)
    reminders: list[float] = field(default_factory=list)
    messages: list[float] = field(default_factory=list)
    pages: list[float] = field(default_factory=list)
    ticks: int = 0
    bundled: int = 0
    deferred: int = 0
    unsent: int = 0
    cpu_seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0


@dataclass
class Result:
    backend: str
    incidents: int
    load_seconds: float = 0.0
    load_cpu_seconds: float = 0.0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    scenarios: list[Scenario] = field(default_factory=list)


def incident_reports(count: int, units: Sequence[str], seed: int = SEED) -> list[IncidentReport]:
    """A deterministic mix of categories, event types, levels and units (mostly minor)."""
    rng = random.Random(seed)
    categories = list(Category)
    levels = [Level.IV] * 6 + [Level.III] * 3 + [Level.II] * 2 + [Level.I]
    reports = []
    for n in range(count):
        category = rng.choice(categories)
        reports.append(
            IncidentReport(
                category=category,
                event_type=rng.choice(EVENT_TYPES[category]),
                level=rng.choice(levels),
                unit=rng.choice(list(units)),
                title=f"bench incident {n}",
                description="synthetic incident for the engine benchmark",
                location="临江市",
            )
        )
    return reports


async def count_rows(dutyd: Dutyd) -> dict[str, int]:
    out = {}
    async with dutyd.sessions() as session:
        for name, model in (
            ("incidents", IncidentRow),
            ("escalation_steps", EscalationStepRow),
            ("messages", MessageRow),
            ("report_duties", ReportDutyRow),
            ("timeline_entries", TimelineEntryRow),
        ):
            out[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return out


async def load(dutyd: Dutyd, reports: Sequence[IncidentReport]) -> None:
    for start in range(0, len(reports), LOAD_BATCH):
        async with dutyd.sessions.begin() as session:
            for report in reports[start : start + LOAD_BATCH]:
                await report_incident(
                    session,
                    report,
                    roster=dutyd.runtime.roster,
                    plans=dutyd.runtime.plans,
                    reporter="bench",
                    now=dutyd.clock.now(),
                    worker=dutyd.worker,
                )
    # What the incidents queued at once counts as sent: the run starts with a clean outbox.
    async with dutyd.sessions.begin() as session:
        await session.execute(
            update(MessageRow)
            .where(MessageRow.state == MessageState.pending)
            .values(state=MessageState.delivered, sent_at=MessageRow.created_at)
        )


async def spread_due_times(
    dutyd: Dutyd, chosen: set[int], *, lead: float, window: float, seed: int = SEED
) -> tuple[datetime, dict[int, datetime]]:
    """Make the chosen incidents' pending steps and first open duty fall due at random
    instants in [now + lead, now + lead + window); move every other pending step and open
    duty a day out. Return the window's end and, per chosen incident, when its first duty's
    next action is due."""
    rng = random.Random(seed + len(chosen))
    start = dutyd.clock.now() + timedelta(seconds=lead)
    end = start + timedelta(seconds=window)
    later = end + timedelta(days=1)

    def at() -> datetime:
        return start + timedelta(seconds=rng.uniform(0, window))

    async with dutyd.sessions.begin() as session:
        steps = (
            await session.execute(
                select(EscalationStepRow.id, EscalationStepRow.incident_id)
                .where(EscalationStepRow.state == StepState.pending)
                .order_by(EscalationStepRow.id)
            )
        ).all()
        duties = (
            await session.execute(
                select(ReportDutyRow.id, ReportDutyRow.incident_id)
                .where(ReportDutyRow.state == DutyState.open, ReportDutyRow.next_at.is_not(None))
                .order_by(ReportDutyRow.incident_id, ReportDutyRow.next_at, ReportDutyRow.id)
            )
        ).all()
        step_changes = [
            {"id": step_id, "due_at": at() if incident_id in chosen else later}
            for step_id, incident_id in steps
        ]
        if step_changes:
            await session.execute(update(EscalationStepRow), step_changes)
        first: dict[int, datetime] = {}
        duty_changes: list[dict[str, object]] = []
        for duty_id, incident_id in duties:
            if incident_id in chosen and incident_id not in first:
                first[incident_id] = at()
                duty_changes.append(
                    {"id": duty_id, "next_at": first[incident_id], "phase": DutyPhase.remind}
                )
            else:
                duty_changes.append({"id": duty_id, "next_at": later})
        if duty_changes:
            await session.execute(update(ReportDutyRow), duty_changes)
    return end, first


async def work_left(reader: AsyncEngine, until: datetime) -> int:
    """Due rows not yet done, read on a connection of our own (on SQLite, dutyd's sessions
    take the write lock at BEGIN, which would make this wait for, and delay, the engine)."""
    async with reader.connect() as connection:
        steps = await connection.scalar(
            select(func.count())
            .select_from(EscalationStepRow)
            .where(EscalationStepRow.state == StepState.pending, EscalationStepRow.due_at <= until)
        )
        duties = await connection.scalar(
            select(func.count())
            .select_from(ReportDutyRow)
            .where(ReportDutyRow.state == DutyState.open, ReportDutyRow.next_at <= until)
        )
        messages = await connection.scalar(
            select(func.count())
            .select_from(MessageRow)
            .where(MessageRow.state.in_((MessageState.pending, MessageState.sending)))
        )
    return int(steps or 0) + int(duties or 0) + int(messages or 0)


@dataclass
class Deliveries:
    """Messages about incidents queued since some instant, and when each was handed over."""

    handed_over: list[tuple[int | None, datetime, datetime]] = field(default_factory=list)
    bundled: int = 0  # went out inside a digest
    deferred: int = 0  # held back at least once by the per-person rate limit
    unsent: int = 0


async def read_deliveries(reader: AsyncEngine, since: datetime) -> Deliveries:
    """(escalation step id, created_at, handed over at) per message; a message bundled into
    a digest counts as handed over when its digest was."""
    digest = aliased(MessageRow)
    out = Deliveries()
    async with reader.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    MessageRow.escalation_step_id,
                    MessageRow.created_at,
                    MessageRow.sent_at,
                    digest.sent_at,
                )
                .outerjoin(digest, MessageRow.digest_of == digest.id)
                .where(MessageRow.created_at >= since, MessageRow.incident_id.is_not(None))
            )
        ).all()
        out.deferred = int(
            await connection.scalar(
                select(func.count(func.distinct(MessageEventRow.message_id))).where(
                    MessageEventRow.at >= since, MessageEventRow.detail.like("rate limit%")
                )
            )
            or 0
        )
    for step_id, created, sent, digest_sent in rows:
        at = sent or digest_sent
        if at is None:
            out.unsent += 1
            continue
        out.bundled += sent is None
        out.handed_over.append((step_id, created, at))
    return out


async def read_lateness(
    dutyd: Dutyd,
    reader: AsyncEngine,
    result: Scenario,
    since: datetime,
    first_duty: dict[int, datetime],
) -> None:
    async with reader.connect() as connection:
        steps = (
            await connection.execute(
                select(EscalationStepRow.id, EscalationStepRow.due_at, EscalationStepRow.fired_at)
                .where(EscalationStepRow.fired_at >= since)
                .order_by(EscalationStepRow.id)
            )
        ).all()
        step_due = {step_id: due for step_id, due, _ in steps}
        result.steps = [(fired - due).total_seconds() for _, due, fired in steps]
        reminders = (
            await connection.execute(
                select(TimelineEntryRow.incident_id, TimelineEntryRow.at).where(
                    TimelineEntryRow.kind == "report_reminder", TimelineEntryRow.at >= since
                )
            )
        ).all()
        result.reminders = [
            (at - first_duty[incident_id]).total_seconds()
            for incident_id, at in reminders
            if incident_id in first_duty
        ]
    deliveries = await read_deliveries(reader, since)
    result.messages = [(at - created).total_seconds() for _, created, at in deliveries.handed_over]
    result.pages = [
        (at - step_due[step_id]).total_seconds()
        for step_id, _, at in deliveries.handed_over
        if step_id in step_due
    ]
    result.bundled, result.deferred, result.unsent = (
        deliveries.bundled,
        deliveries.deferred,
        deliveries.unsent,
    )


async def run_scenario(
    dutyd: Dutyd,
    reader: AsyncEngine,
    chosen: set[int],
    *,
    window: float,
    lead: float,
    grace: float,
    label: str,
) -> Scenario:
    """Make the chosen incidents' work fall due, run the scheduler until all of it is done."""
    scenario = Scenario(due_incidents=len(chosen), window_seconds=window)
    end, first_duty = await spread_due_times(dutyd, chosen, lead=lead, window=window)
    since = dutyd.clock.now()
    original_tick = dutyd.tick
    passes: set[asyncio.Task[object]] = set()

    async def counted_tick() -> object:
        scenario.ticks += 1
        task = asyncio.current_task()
        assert task is not None
        passes.add(task)
        try:
            return await original_tick()
        finally:
            passes.discard(task)

    dutyd.tick = counted_tick  # type: ignore[method-assign]
    scenario.load_before = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    await dutyd.run_scheduler()
    try:
        deadline = time.monotonic() + lead + window + grace
        next_note = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if dutyd.clock.now() <= end and time.monotonic() < next_note:
                continue
            left = await work_left(reader, end)
            if left == 0 and dutyd.clock.now() > end:
                scenario.finished = True
                break
            if time.monotonic() >= next_note:
                next_note += 10
                print(
                    f"  [{label} +{time.perf_counter() - began:.0f} s] {left} due rows left",
                    flush=True,
                )
        scenario.run_seconds = time.perf_counter() - began
        scenario.cpu_seconds = time.process_time() - cpu
        scenario.load_after = os.getloadavg()[0]
    finally:
        # Shutting APScheduler down cancels the jobs under way: pause it, let them finish.
        if dutyd.scheduler is not None:
            dutyd.scheduler.pause()
            await asyncio.gather(*passes)
            dutyd.scheduler.shutdown(wait=False)
            dutyd.scheduler = None
        dutyd.tick = original_tick  # type: ignore[method-assign]
    await read_lateness(dutyd, reader, scenario, since, first_duty)
    return scenario


async def bench_backend(
    backend: str,
    *,
    incidents: int,
    due: Sequence[int],
    window: float,
    lead: float,
    poll: float,
    batch_size: int,
    grace: float,
    postgres_url: str | None,
    pacing: bool,
) -> Result:
    result = Result(backend=backend, incidents=incidents)
    with tempfile.TemporaryDirectory(prefix="dutyd-engine-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with database_for(backend, tmp, postgres_url, "dutyd_bench_engine") as url:
            transport = RecordingTransport()
            settings = make_settings(
                tmp,
                database_url=url,
                worker_name="bench",
                engine_poll_seconds=poll,
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
            if not pacing:
                dutyd.engine.outbox.policy = replace(
                    dutyd.engine.outbox.policy,
                    digest_threshold=UNLIMITED,
                    rate_limit_per_minute=UNLIMITED,
                )
            reader = create_async_engine(url)
            try:
                reports = incident_reports(incidents, sorted(dutyd.runtime.roster.units))
                began, cpu = time.perf_counter(), time.process_time()
                await load(dutyd, reports)
                result.load_seconds = time.perf_counter() - began
                result.load_cpu_seconds = time.process_time() - cpu
                result.rows_loaded = await count_rows(dutyd)
                print(
                    f"  [{backend}] loaded {incidents} incidents in {result.load_seconds:.0f} s",
                    flush=True,
                )
                async with dutyd.sessions() as session:
                    ids = list(
                        await session.scalars(select(IncidentRow.id).order_by(IncidentRow.id))
                    )
                used = 0
                for count in due:
                    chosen = set(ids[used : used + count])
                    used += count
                    scenario = await run_scenario(
                        dutyd,
                        reader,
                        chosen,
                        window=window,
                        lead=lead,
                        grace=grace,
                        label=f"{backend}, {count} due",
                    )
                    result.scenarios.append(scenario)
                    transport.sent.clear()
            finally:
                await reader.dispose()
                await dutyd.stop()
    return result


def report(result: Result) -> None:
    print(f"\n== {result.backend}: {result.incidents} open incidents ==")
    rows = ", ".join(f"{k} {v}" for k, v in result.rows_loaded.items())
    print(
        f"loading: {result.load_seconds:.1f} s, {result.load_cpu_seconds:.1f} s of CPU "
        f"({result.incidents / result.load_seconds:.0f} incidents/s); rows: {rows}"
    )
    for scenario in result.scenarios:
        rate = scenario.due_incidents / scenario.window_seconds
        print(
            f"-- {scenario.due_incidents} incidents due over {scenario.window_seconds:.0f} s "
            f"(a step and a report reminder each: {2 * rate:.0f} items/s): "
            + (
                f"all done {scenario.run_seconds:.1f} s after the start"
                if scenario.finished
                else "** NOT FINISHED: work was left when the time ran out **"
            )
            + f", {scenario.ticks} engine passes; this process used "
            f"{scenario.cpu_seconds:.1f} s of CPU; load average {scenario.load_before:.1f} "
            f"before, {scenario.load_after:.1f} after"
        )
        print(f"  steps      fired - due      {summary_ms(scenario.steps)}")
        print(f"  reminders  done - due       {summary_ms(scenario.reminders)}")
        print(f"  messages   sent - queued    {summary_ms(scenario.messages)}")
        print(
            f"             ({scenario.bundled} went out in digests, {scenario.deferred} were "
            f"held back by the per-person rate limit, {scenario.unsent} not sent)"
        )
        print(f"  pages      sent - step due  {summary_ms(scenario.pages)}")
        if scenario.pages:
            within = sum(1 for v in scenario.pages if v <= LATENESS_GOAL_S)
            print(
                f"  pages sent within {LATENESS_GOAL_S:.0f} s of the step's due time: "
                f"{within}/{len(scenario.pages)} = {100 * within / len(scenario.pages):.1f}%"
            )


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    due = [int(n) for n in args.due.split(",")] if args.due else [args.incidents]
    if sum(due) > args.incidents:
        raise SystemExit("--due: the scenarios need more incidents than --incidents loads")
    postgres_url = postgres_admin_url(args.postgres_url)
    print(f"machine: {machine()}; {source_state()}")
    print(
        f"engine_poll_seconds={args.poll}, engine_batch_size={args.batch_size}, "
        + (
            "delivery pacing as dutyd's defaults (digests, per-person rate limit), "
            if args.pacing == "dutyd"
            else "delivery pacing off (no digests, no rate limit), "
        )
        + f"window {args.window:.0f} s starting {args.lead:.0f} s after loading"
    )
    for backend in backends:
        result = await bench_backend(
            backend,
            incidents=args.incidents,
            due=due,
            window=args.window,
            lead=args.lead,
            poll=args.poll,
            batch_size=args.batch_size,
            grace=args.timeout,
            postgres_url=postgres_url,
            pacing=args.pacing == "dutyd",
        )
        report(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument(
        "--due",
        default=None,
        help="comma-separated: how many incidents fall due in each successive run over the "
        "same database (distinct incidents each time; default: all of them, once)",
    )
    parser.add_argument("--window", type=float, default=25.0, help="seconds the due times span")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds before the window opens")
    parser.add_argument("--poll", type=float, default=0.2, help="engine_poll_seconds")
    parser.add_argument("--batch-size", type=int, default=100, help="engine_batch_size")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait after the window closes"
    )
    parser.add_argument(
        "--pacing",
        choices=["off", "dutyd"],
        default="off",
        help="off: no digests and no per-person rate limit, so every message is sent as soon "
        "as the outbox gets to it (what is measured is dutyd's speed); dutyd: its default "
        "delivery policy, which holds pages to one person back on purpose",
    )
    parser.add_argument("--postgres-url", default=None, help="server to create a database in")
    parser.add_argument("--log-level", default="WARNING", help="dutyd's log level")
    args = parser.parse_args()
    isolate_environment()
    configure_logging(args.log_level)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
