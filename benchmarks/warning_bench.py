"""Benchmark public warnings: sign-off to every SMS handed over, and a lift overtaking a
warning that is still going out.

Run with `python -m benchmarks.warning_bench --backend sqlite|postgres --recipients N
[--processes K] [--lift-after SECONDS]`.

Setup (not timed as part of the goal): a fresh database and a started Dutyd with the real
system clock and a zero-latency transport on every channel (`ZeroLatency`: `send` returns
a Receipt at once and keeps only a count and the hand-off time of each message, per
broadcast). N recipients in Qingshan county (division codes 339901001..339901020) and,
with `--elsewhere F`, F·N more in Hexi county (339902…), spread evenly between them by id,
are bulk-inserted with SQLAlchemy Core (`service.store.bulk.insert_rows`, one statement
of arrays per 10,000 rows on PostgreSQL), not through `import_recipients`. Each has one
SMS address; 5 % of them read English. The SMS pace (`warning_rules.sms.per_second`) is
set to `--per-second` (default 100,000, the most the rules allow) in every process, so
that the provider's pace is not what is measured.

Run: an orange rainstorm warning for 339901 is drafted, submitted and reviewed by the
county and the city (each step through `flows.warnings.run_step`, holding the warning
gate, as the API does). With `--processes K` (PostgreSQL), K−1 more dutyd processes are
started on the same database, each running its scheduler (the engine: fan-out, outbox)
with its own zero-latency transport. This process runs its scheduler too, then signs the
warning (the clock starts just before that step), wakes its engine and waits until the
warning's fan-out is done and none of its messages is pending or sending. With
`--lift-after S`, the warning is lifted (`lift_warning`) S seconds after the sign-off
committed; the run then ends when the lift has reached everyone it goes to and the
original's waiting messages are withdrawn. The lift's commit time is taken right after
its transaction commits (and, stricter, when its work ended just before the commit), and
compared with every hand-off time of the original recorded by the transports.

Memory: the RSS of every process is sampled every 0.2 s from /proc from the sign-off to
the end (this process's peak, VmHWM, is reset after the setup when the kernel allows).

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from benchmarks.engine_bench import (
    database_for,
    isolate_environment,
    machine,
    postgres_admin_url,
    source_state,
)
from service import metrics
from service.app import Dutyd
from service.catalog import Channel, Level
from service.clock import SystemClock
from service.flows import warning_fanout
from service.flows import warnings as flow
from service.logs import configure_logging
from service.notify.broadcasts import broadcast_counts
from service.notify.tables import MessageEventRow, MessageRow, MessageState
from service.notify.transport import OutgoingMessage, Receipt
from service.process import tune_garbage_collector
from service.store.bulk import insert_rows
from service.store.database import is_postgres
from service.warnings.tables import (
    RecipientChannelRow,
    RecipientCodeRow,
    RecipientRow,
    WarningRow,
)
from tests.conftest import make_settings
from tests.warnings.warning_helpers import (
    CITY_APPROVER,
    COUNTY_APPROVER,
    COUNTY_HEAD,
    DRAFTER,
    LEADER,
    desk,
    rainstorm,
)

GOALS = {"sqlite": (100_000, 30.0), "postgres": (1_000_000, 300.0)}
GOAL_RSS_MB = 300.0
GOAL_LIFT_FIRST_S = 1.0
LOAD_CHUNK = 10_000
AREA = "339901"  # Qingshan county
OTHER = "339902"  # Hexi county
TOWNS = 20
POLL_S = 0.25
PROGRESS_S = 10.0
RSS_EVERY_S = 0.2
STALL_S = 60.0  # nothing handed over for this long: the run has stalled
T = TypeVar("T")


# ---------------------------------------------------------------- the transport


class ZeroLatency:
    """Hands every message over at once; keeps a count and each hand-off time (time.time()
    in a flat array, 8 bytes a message) per broadcast, nothing else."""

    name = "zero"

    def __init__(self) -> None:
        self.times: dict[int, array[float]] = defaultdict(lambda: array("d"))
        self.count = 0

    async def send(self, message: OutgoingMessage) -> Receipt:
        self.times[message.broadcast_id or 0].append(time.time())
        self.count += 1
        return Receipt(transport=self.name, provider_id=f"z{message.id}", state="sent")

    async def find_sent(self, message: OutgoingMessage, since: Any, exclude: Any = ()) -> None:
        return None

    async def close(self) -> None:
        return None


def transports_of(transport: ZeroLatency) -> dict[Channel, Any]:
    return {channel: transport for channel in Channel}


# ---------------------------------------------------------------- processes and memory


def status_kb(pid: int, field_name: str) -> int | None:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    values = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def server_cpu_seconds(data_dir: str | None) -> float | None:
    """CPU seconds used so far by the PostgreSQL server of `data_dir` (its postmaster,
    the backends it has reaped and those still running), if this machine runs it."""
    if not data_dir:
        return None
    try:
        postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text_ = stat.read_text()
        except OSError:
            continue
        pid = int(stat.parent.name)
        fields = text_.rsplit(")", 1)[1].split()
        ppid = int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM (Linux: 5 > clear_refs), so the setup does not count."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Samples each process's RSS every `every` seconds, from a thread of its own."""

    def __init__(self, pids: Sequence[int], every: float = RSS_EVERY_S) -> None:
        super().__init__(daemon=True)
        self.pids = list(pids)
        self.every = every
        self.peak_kb: dict[int, int] = dict.fromkeys(self.pids, 0)
        self.last_kb: dict[int, int] = dict.fromkeys(self.pids, 0)
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for pid in self.pids:
                rss = status_kb(pid, "VmRSS")
                if rss is not None:
                    self.last_kb[pid] = rss
                    self.peak_kb[pid] = max(self.peak_kb[pid], rss)
            self.samples += 1
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def make_dutyd(url: str, data_dir: Path, worker: str, args: argparse.Namespace) -> Dutyd:
    settings = make_settings(
        data_dir,
        database_url=url,
        worker_name=worker,
        engine_batch_size=args.batch_size,
        engine_poll_seconds=args.poll,
        shift_reminder_hours=0,
    )
    return Dutyd(settings, clock=SystemClock(), transports=transports_of(ZeroLatency()))


async def start_dutyd(dutyd: Dutyd, args: argparse.Namespace) -> ZeroLatency:
    """Start it as `dutyd serve` would (its collector tuned), at the benchmark's SMS pace."""
    await dutyd.start()
    tune_garbage_collector()
    rules = dutyd.warning_rules
    dutyd.warning_rules = rules.model_copy(
        update={"sms": rules.sms.model_copy(update={"per_second": args.per_second})}
    )
    if args.fanout_chunk:
        warning_fanout.FANOUT_CHUNK = args.fanout_chunk  # read at each pass
    transport = dutyd.transports[Channel.sms]
    assert isinstance(transport, ZeroLatency)
    return transport


@dataclass
class Helper:
    """Another dutyd process on the same database, running its engine."""

    worker: str
    process: asyncio.subprocess.Process
    handed: int = 0
    final: dict[str, Any] | None = None
    reader: asyncio.Task[None] | None = None


def helper_command(url: str, worker: str, out: Path, args: argparse.Namespace) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.warning_bench",
        "--helper-of",
        url,
        "--worker",
        worker,
        "--out",
        str(out),
        "--batch-size",
        str(args.batch_size),
        "--poll",
        str(args.poll),
        "--per-second",
        str(args.per_second),
        "--fanout-chunk",
        str(args.fanout_chunk),
        "--log-level",
        args.log_level,
    ]
    if args.profile:
        command += ["--profile", str(args.profile)]
    return command


async def start_helper(url: str, worker: str, out: Path, args: argparse.Namespace) -> Helper:
    process = await asyncio.create_subprocess_exec(
        *helper_command(url, worker, out, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    if line.strip() != b"ready":
        raise SystemExit(f"helper {worker} did not start: {line!r}")
    helper = Helper(worker, process)
    helper.reader = asyncio.create_task(read_helper(helper))
    return helper


async def read_helper(helper: Helper) -> None:
    """Its progress lines (`handed N`), then its final JSON line."""
    assert helper.process.stdout is not None
    async for raw in helper.process.stdout:
        line = raw.decode().strip()
        if line.startswith("handed "):
            helper.handed = int(line.split()[1])
        elif line.startswith("{"):
            helper.final = json.loads(line)


async def stop_helper(helper: Helper) -> dict[str, Any]:
    assert helper.process.stdin is not None
    helper.process.stdin.write(b"stop\n")
    await helper.process.stdin.drain()
    await helper.process.wait()
    if helper.reader is not None:
        await helper.reader
    if helper.final is None:
        raise SystemExit(f"helper {helper.worker} ended without its figures")
    return helper.final


def dump_times(transport: ZeroLatency, out: Path, worker: str) -> dict[str, str]:
    files = {}
    for broadcast, times in transport.times.items():
        path = out / f"times-{worker}-{broadcast}.bin"
        with path.open("wb") as f:
            times.tofile(f)
        files[str(broadcast)] = str(path)
    return files


def load_times(path: str) -> array[float]:
    times = array("d")
    with open(path, "rb") as f:
        times.frombytes(f.read())
    return times


def process_figures(
    worker: str, transport: ZeroLatency, out: Path, cpu: float, wall: float
) -> dict[str, Any]:
    return {
        "worker": worker,
        "pid": os.getpid(),
        "handed": transport.count,
        "times": dump_times(transport, out, worker),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "hwm_kb": status_kb(os.getpid(), "VmHWM"),
        "engine_errors": int(metrics.ENGINE_ERRORS._value.get()),
    }


async def helper_main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="dutyd-warning-helper-") as tmp_name:
        dutyd = make_dutyd(args.helper_of, Path(tmp_name), args.worker, args)
        transport = await start_dutyd(dutyd, args)
        profile = cProfile.Profile() if args.profile else None
        stopping = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        try:
            await dutyd.run_scheduler()
            reset_peak_rss()
            print("ready", flush=True)
            began, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            while not stopping.done():
                await asyncio.wait([stopping], timeout=0.5)
                print(f"handed {transport.count}", flush=True)
            if profile:
                profile.disable()
                profile.dump_stats(str(Path(args.profile) / f"{args.worker}.prof"))
            figures = process_figures(
                args.worker,
                transport,
                out,
                time.process_time() - cpu,
                time.perf_counter() - began,
            )
        finally:
            await dutyd.stop()
        print(json.dumps(figures), flush=True)


# ---------------------------------------------------------------- setup


def spread(total: int, elsewhere: int) -> Iterator[bool]:
    """For recipient 1..total: whether it is elsewhere (outside the area), evenly spread."""
    for i in range(total):
        yield (i + 1) * elsewhere // total > i * elsewhere // total


async def load_recipients(dutyd: Dutyd, in_area: int, elsewhere: int) -> int:
    """Bulk-insert the recipients, their codes and SMS addresses; how many are in the area."""
    now = dutyd.clock.now()
    total = in_area + elsewhere
    places = spread(total, elsewhere)
    counted = 0
    for start in range(0, total, LOAD_CHUNK):
        ids = range(start + 1, min(start + LOAD_CHUNK, total) + 1)
        recipients, codes, channels = [], [], []
        for rid in ids:
            outside = next(places)
            counted += not outside
            code = f"{OTHER if outside else AREA}{rid % TOWNS + 1:03d}"
            recipients.append(
                {
                    "id": rid,
                    "external_id": f"wb{rid:08d}",
                    "name": f"接收人{rid}",
                    "kind": "village_head" if rid % 50 == 0 else "public",
                    "language": "en-US" if rid % 20 == 0 else "zh-CN",
                    "area": {"description": "", "codes": [code], "polygons": [], "circles": []},
                    "has_geometry": False,
                    "groups": [],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            codes.append({"recipient_id": rid, "code": code})
            channels.append(
                {
                    "recipient_id": rid,
                    "channel": "sms",
                    "address": f"+86139{rid:08d}",
                    "opted_out_at": None,
                }
            )
        async with dutyd.sessions.begin() as session:
            await insert_rows(session, RecipientRow.__table__, recipients)
            await insert_rows(session, RecipientCodeRow.__table__, codes)
            await insert_rows(session, RecipientChannelRow.__table__, channels)
    async with dutyd.sessions.begin() as session:
        if is_postgres(session):
            # The ids were given: the sequence goes on after them.
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('recipients', 'id'), :n)"),
                {"n": total},
            )
            await session.execute(text("ANALYZE"))
        else:
            await session.execute(text("ANALYZE"))
    return counted


async def step(dutyd: Dutyd, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return await flow.run_step(dutyd.sessions, dutyd.warning_gate.lock, work)


async def prepare_warning(dutyd: Dutyd) -> int:
    """An orange rainstorm warning for the county, reviewed and awaiting sign-off."""
    content = rainstorm(Level.II, [AREA], dutyd.clock.now() + timedelta(hours=12))
    content = content.model_copy(
        update={"areas": [content.areas[0].model_copy(update={"description": "青山县"})]}
    )

    async def draft(session: AsyncSession) -> int:
        row = await flow.draft_warning(
            session, desk(dutyd), content, unit_id="qingshan", actor=DRAFTER
        )
        return row.id

    warning_id = await step(dutyd, draft)
    await step(dutyd, lambda s: flow.submit_warning(s, desk(dutyd), warning_id, DRAFTER))
    for reviewer in (COUNTY_APPROVER, CITY_APPROVER):
        await step(
            dutyd,
            lambda s, r=reviewer: flow.review_warning(  # type: ignore[misc]
                s, desk(dutyd), warning_id, r, approve=True, comment="同意"
            ),
        )
    return warning_id


# ---------------------------------------------------------------- the run


@dataclass
class Lift:
    started: float = 0.0
    work_done: float = 0.0  # its work ended, just before the commit
    committed: float = 0.0
    warning_id: int | None = None


@dataclass
class Run:
    backend: str
    recipients: int
    elsewhere: int
    processes: int
    load_seconds: float = 0.0
    sign_started: float = 0.0
    sign_committed: float = 0.0
    finished: bool = False
    ended: float = 0.0
    lift: Lift | None = None
    warning_id: int = 0
    fanned_out_at: float | None = None
    lift_fanned_out_at: float | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)
    peak_kb: dict[str, int] = field(default_factory=dict)
    last_kb: dict[str, int] = field(default_factory=dict)
    rss_samples: int = 0
    counts: dict[int, dict[str, int]] = field(default_factory=dict)
    distinct_recipients: int = 0
    lift_to_untold: int = 0
    # The lift's first messages: their pass began (created_at), first claimed (event).
    lift_first_queued: float | None = None
    lift_first_claimed: float | None = None
    progress: list[str] = field(default_factory=list)
    load_average: str = ""
    machine_cpu: float = 0.0
    server_cpu: float | None = None


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def lift_later(dutyd: Dutyd, run: Run, after: float) -> int:
    await asyncio.sleep(max(0.0, run.sign_committed + after - time.time()))
    lift = Lift(started=time.time())
    run.lift = lift

    async def work(session: AsyncSession) -> int:
        row = await flow.lift_warning(session, desk(dutyd), run.warning_id, LEADER, reason="误报")
        await session.flush()
        lift.work_done = time.time()
        return row.id

    lift.warning_id = await step(dutyd, work)
    lift.committed = time.time()
    dutyd.wake()
    return lift.warning_id


async def states(dutyd: Dutyd, ids: list[int]) -> dict[int, tuple[str | None, int, Any]]:
    async with dutyd.reads() as session:
        rows = await session.execute(
            select(
                WarningRow.id,
                WarningRow.fanout_state,
                WarningRow.targeted,
                WarningRow.fanout_done_at,
            ).where(WarningRow.id.in_(ids))
        )
        return {i: (s, t, d) for i, s, t, d in rows}


async def still_out(dutyd: Dutyd, broadcast_id: int) -> int:
    """Messages of the broadcast pending or being sent."""
    async with dutyd.reads() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(MessageRow)
                .where(
                    MessageRow.broadcast_id == broadcast_id,
                    MessageRow.state.in_([MessageState.pending, MessageState.sending]),
                )
            )
            or 0
        )


async def wait_until_done(
    dutyd: Dutyd,
    run: Run,
    transport: ZeroLatency,
    helpers: list[Helper],
    sampler: RssSampler,
    lifting: asyncio.Task[int] | None,
    deadline: float,
) -> bool:
    next_note = time.time() + PROGRESS_S
    last_handed, last_at = 0, time.time()
    moved, moved_at = -1, time.time()
    while time.time() < deadline:
        await asyncio.sleep(POLL_S)
        handed_now = transport.count + sum(h.handed for h in helpers)
        if handed_now != moved:
            moved, moved_at = handed_now, time.time()
        elif time.time() - moved_at > STALL_S:
            print(f"  ** nothing handed over for {STALL_S:.0f} s: giving up **", flush=True)
            return False
        if time.time() >= next_note:
            next_note += PROGRESS_S
            handed = transport.count + sum(h.handed for h in helpers)
            now = time.time()
            rate = (handed - last_handed) / (now - last_at)
            last_handed, last_at = handed, now
            ids = [run.warning_id] + (
                [run.lift.warning_id] if run.lift and run.lift.warning_id else []
            )
            targeted = [s[1] for s in (await states(dutyd, ids)).values()]
            rss = " ".join(f"{kb / 1024:.0f}" for kb in sampler.last_kb.values())
            note = (
                f"  [+{now - run.sign_started:5.0f} s] {handed} handed over ({rate:.0f}/s "
                f"lately), targeted {targeted}, RSS MB {rss}, load {load_average()}"
            )
            run.progress.append(note)
            print(note, flush=True)
        if lifting is not None and not lifting.done():
            continue
        final = lifting.result() if lifting is not None else run.warning_id
        ids = [run.warning_id, final]
        now_states = await states(dutyd, ids)
        if now_states[final][0] != "done":
            continue
        if lifting is not None and now_states[run.warning_id][0] != "stopped":
            continue
        if await still_out(dutyd, final):
            continue
        return True
    return False


async def verify(dutyd: Dutyd, run: Run) -> None:
    ids = [run.warning_id] + ([run.lift.warning_id] if run.lift and run.lift.warning_id else [])
    async with dutyd.sessions.begin() as session:
        if is_postgres(session):
            # The statistics are those of the setup (no messages yet) unless autovacuum
            # has come by: planned on them, the anti-join below became a nested loop over
            # every pair of messages (over 2 minutes at 140,000 of each, then cancelled).
            await session.execute(text("ANALYZE messages, message_events"))
    async with dutyd.reads() as session:
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        for (broadcast, channel, state), n in (await broadcast_counts(session, ids)).items():
            counts[broadcast][f"{channel}:{state}"] = n
        run.counts = dict(counts)
        handed = [MessageState.sent, MessageState.delivered]
        run.distinct_recipients = int(
            await session.scalar(
                select(func.count(func.distinct(MessageRow.recipient_id))).where(
                    MessageRow.broadcast_id == run.warning_id, MessageRow.state.in_(handed)
                )
            )
            or 0
        )
        for warning_id, (_, _, done_at) in (await states(dutyd, ids)).items():
            at = done_at.timestamp() if done_at else None
            if warning_id == run.warning_id:
                run.fanned_out_at = at
            else:
                run.lift_fanned_out_at = at
        if run.lift and run.lift.warning_id:
            # Lift messages to someone the original never reached.
            told = aliased(MessageRow)
            lift_id = run.lift.warning_id
            queued = await session.scalar(
                select(func.min(MessageRow.created_at)).where(MessageRow.broadcast_id == lift_id)
            )
            claimed = await session.scalar(
                select(func.min(MessageEventRow.at)).where(
                    MessageEventRow.state == MessageState.sending,
                    MessageEventRow.message_id.in_(
                        select(MessageRow.id).where(MessageRow.broadcast_id == lift_id)
                    ),
                )
            )
            run.lift_first_queued = queued.timestamp() if queued else None
            run.lift_first_claimed = claimed.timestamp() if claimed else None
            run.lift_to_untold = int(
                await session.scalar(
                    select(func.count())
                    .select_from(MessageRow)
                    .where(
                        MessageRow.broadcast_id == run.lift.warning_id,
                        ~exists().where(
                            told.broadcast_id == run.warning_id,
                            told.recipient_id == MessageRow.recipient_id,
                            told.state.in_(handed),
                        ),
                    )
                )
                or 0
            )


async def bench(args: argparse.Namespace, url: str, tmp: Path) -> Run:
    elsewhere = round(args.recipients * args.elsewhere)
    run = Run(args.backend, args.recipients, elsewhere, args.processes)
    out = tmp / "times"
    out.mkdir()
    dutyd = make_dutyd(url, tmp / "main", "bench-1", args)
    transport = await start_dutyd(dutyd, args)
    helpers: list[Helper] = []
    sampler: RssSampler | None = None
    profile = cProfile.Profile() if args.profile else None
    try:
        began = time.perf_counter()
        in_area = await load_recipients(dutyd, args.recipients, elsewhere)
        assert in_area == args.recipients
        run.load_seconds = time.perf_counter() - began
        print(
            f"  recipients loaded: {args.recipients} in the area, {elsewhere} elsewhere, "
            f"in {run.load_seconds:.0f} s",
            flush=True,
        )
        run.warning_id = await prepare_warning(dutyd)
        for n in range(2, args.processes + 1):
            helpers.append(await start_helper(url, f"bench-{n}", out, args))
        await dutyd.run_scheduler()
        reset_peak_rss()
        sampler = RssSampler([os.getpid()] + [h.process.pid for h in helpers])
        sampler.start()
        run.load_average = load_average()
        cpu = time.process_time()
        busy, server = machine_busy_seconds(), server_cpu_seconds(args.pg_data)
        if profile:
            profile.enable()
        run.sign_started = time.time()
        await step(dutyd, lambda s: flow.sign_warning(s, desk(dutyd), run.warning_id, COUNTY_HEAD))
        run.sign_committed = time.time()
        dutyd.wake()
        lifting = (
            asyncio.create_task(lift_later(dutyd, run, args.lift_after))
            if args.lift_after is not None
            else None
        )
        run.finished = await wait_until_done(
            dutyd, run, transport, helpers, sampler, lifting, time.time() + args.max_seconds
        )
        run.ended = time.time()
        run.machine_cpu = machine_busy_seconds() - busy
        server_after = server_cpu_seconds(args.pg_data)
        if server is not None and server_after is not None:
            run.server_cpu = server_after - server
        if profile:
            profile.disable()
            profile.dump_stats(str(Path(args.profile) / "bench-1.prof"))
        if lifting is not None and not lifting.done():
            lifting.cancel()
        sampler.stop()
        for pid, kb in sampler.peak_kb.items():
            run.peak_kb[str(pid)] = kb
            run.last_kb[str(pid)] = sampler.last_kb[pid]
        run.rss_samples = sampler.samples
        run.figures.append(
            process_figures(
                "bench-1", transport, out, time.process_time() - cpu, run.ended - run.sign_started
            )
        )
        for helper in helpers:
            run.figures.append(await stop_helper(helper))
        helpers = []
        if dutyd.scheduler is not None:
            dutyd.scheduler.pause()
        await verify(dutyd, run)
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        for helper in helpers:
            helper.process.kill()
        await dutyd.stop()
    return run


# ---------------------------------------------------------------- report


def report(run: Run, args: argparse.Namespace) -> None:
    print(
        f"\n== public warning, {run.backend}, {run.processes} dutyd process(es): "
        f"{run.recipients} recipients in {AREA} (+{run.elsewhere} elsewhere) =="
    )
    print(
        f"engine_batch_size={args.batch_size}, sms.per_second={args.per_second:.0f}, "
        f"FANOUT_CHUNK={args.fanout_chunk or warning_fanout.FANOUT_CHUNK} (first "
        f"{getattr(warning_fanout, 'FIRST_CHUNK', '-')}), "
        f"engine_poll_seconds={args.poll}; load average at sign-off {run.load_average}, "
        f"at the end {load_average()}"
    )
    print(f"setup: recipients bulk-inserted (Core) in {run.load_seconds:.1f} s")
    times: dict[int, list[array[float]]] = defaultdict(list)
    for figures in run.figures:
        for broadcast, path in figures["times"].items():
            times[int(broadcast)].append(load_times(path))
    original = [t for part in times.get(run.warning_id, []) for t in part]
    sign = run.sign_started
    print(f"sign-off step: {1000 * (run.sign_committed - sign):.0f} ms (start to commit)")
    if run.fanned_out_at:
        print(f"fan-out done (all messages queued) {run.fanned_out_at - sign:.1f} s after sign-off")
    handed = len(original)
    if original:
        first, last = min(original), max(original)
        print(
            f"original: {handed} SMS handed over; first {1000 * (first - run.sign_committed):.0f}"
            f" ms after the sign-off committed, last {last - sign:.2f} s after sign-off "
            f"({handed / (last - sign):.0f} SMS/s)"
        )
    if not run.finished:
        print(f"** NOT FINISHED within --max-seconds {args.max_seconds:.0f} **")
    for figures in run.figures:
        pid = str(figures["pid"])
        print(
            f"  {figures['worker']} (pid {pid}): handed over {figures['handed']}, "
            f"CPU {figures['cpu_seconds']:.1f} s of {figures['wall_seconds']:.1f} s, RSS "
            f"sampled max {run.peak_kb.get(pid, 0) / 1024:.0f} MB (at the end "
            f"{run.last_kb.get(pid, 0) / 1024:.0f} MB), "
            f"VmHWM {(figures['hwm_kb'] or 0) / 1024:.0f} MB"
            + (
                f", ** {figures['engine_errors']} failed engine passes **"
                if figures["engine_errors"]
                else ""
            )
        )
    print(f"  ({run.rss_samples} RSS samples every {RSS_EVERY_S} s per process)")
    ours = sum(f["cpu_seconds"] for f in run.figures)
    wall = run.ended - run.sign_started
    cores = os.cpu_count() or 1
    server = "" if run.server_cpu is None else f", PostgreSQL {run.server_cpu:.1f} s"
    rest = run.machine_cpu - ours - (run.server_cpu or 0.0)
    print(
        f"  CPU over the run ({wall:.1f} s, {cores} cores = {wall * cores:.0f}"
        f" core-seconds): dutyd processes {ours:.1f} s{server}, everything else on the "
        f"machine {rest:.1f} s (whole machine busy {run.machine_cpu:.1f} s)"
    )
    for broadcast, counts in run.counts.items():
        print(f"  messages of warning {broadcast}: {dict(sorted(counts.items()))}")
    total_handed = sum(f["handed"] for f in run.figures)
    print(
        f"  {run.distinct_recipients} distinct recipients reached by the original; "
        f"{total_handed} hand-overs in all by the transports"
    )
    peak_mb = max(run.peak_kb.values(), default=0) / 1024
    goal_n, goal_s = GOALS[run.backend]
    if run.lift is None:
        complete = (
            run.finished
            and handed == run.recipients == run.distinct_recipients
            and total_handed == handed
        )
        took = max(original) - sign if original else float("inf")
        verdict = "met" if complete and took < goal_s else "MISSED"
        extra = (
            f", every process's RSS under {GOAL_RSS_MB:.0f} MB" if run.backend == "postgres" else ""
        )
        rss_ok = peak_mb < GOAL_RSS_MB
        print(
            f"goal ({goal_n} recipients in under {goal_s:.0f} s{extra}): {run.recipients} "
            f"recipients, every SMS handed over exactly once: {complete}; "
            f"{took:.1f} s: {verdict}; RSS max {peak_mb:.0f} MB: "
            f"{'met' if rss_ok else 'MISSED'}"
        )
        return
    report_lift(run, times, original, peak_mb)


def report_lift(
    run: Run, times: dict[int, list[array[float]]], original: list[float], peak_mb: float
) -> None:
    lift = run.lift
    assert lift is not None
    print(
        f"lift: issued {lift.started - run.sign_committed:.1f} s after the sign-off committed, "
        f"its step took {1000 * (lift.committed - lift.started):.0f} ms (work "
        f"{1000 * (lift.work_done - lift.started):.0f} ms, commit "
        f"{1000 * (lift.committed - lift.work_done):.0f} ms)"
    )
    before = sum(1 for t in original if t < lift.started)
    after_commit = sum(1 for t in original if t > lift.committed)
    after_work = sum(1 for t in original if t > lift.work_done)
    last = max(original) if original else float("nan")
    print(
        f"original: {before} handed over before the lift was issued, "
        f"{len(original) - before} while it was being made, {after_commit} after it committed "
        f"({after_work} after its work ended, before the commit); last hand-off "
        f"{1000 * (last - lift.committed):+.1f} ms from the lift's commit"
    )
    lifted = [t for part in times.get(lift.warning_id or -1, []) for t in part]
    if lifted:
        first = min(lifted) - lift.committed
        print(
            f"lift: {len(lifted)} SMS handed over; first {1000 * first:.0f} ms after its commit, "
            f"last {max(lifted) - lift.committed:.1f} s after"
        )
        if run.lift_fanned_out_at:
            print(f"lift fan-out done {run.lift_fanned_out_at - lift.committed:.1f} s after commit")
    else:
        first = float("inf")
        print("lift: ** no SMS of the lift was handed over **")
    if run.lift_first_queued and run.lift_first_claimed:
        print(
            f"lift's first messages: their fan-out pass began "
            f"{1000 * (run.lift_first_queued - lift.committed):.0f} ms after the commit, first "
            f"claimed by an outbox {1000 * (run.lift_first_claimed - lift.committed):.0f} ms after"
        )
    print(f"lift messages to recipients the original never reached: {run.lift_to_untold}")
    ok = after_commit == 0 and first < GOAL_LIFT_FIRST_S and run.finished
    print(
        f"goal (nothing of the original after the lift commits; the lift's first SMS within "
        f"{GOAL_LIFT_FIRST_S:.0f} s): {'met' if ok else 'MISSED'}; RSS max {peak_mb:.0f} MB"
    )


# ---------------------------------------------------------------- main


async def main_async(args: argparse.Namespace) -> None:
    postgres_url = postgres_admin_url(args.postgres_url) if args.backend == "postgres" else None
    print(f"machine: {machine()}; {source_state()}; load average {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dutyd-warning-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with database_for(args.backend, tmp, postgres_url, "dutyd_bench_warning") as url:
            run = await bench(args, url, tmp)
            report(run, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--recipients", type=int, default=100_000, help="recipients in the area")
    parser.add_argument(
        "--elsewhere",
        type=float,
        default=0.1,
        help="recipients outside the area, as a fraction of --recipients (interleaved by id)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="dutyd processes running the engine (PostgreSQL)"
    )
    parser.add_argument(
        "--lift-after",
        type=float,
        default=None,
        help="lift the warning this many seconds after the sign-off committed",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="engine_batch_size")
    parser.add_argument("--poll", type=float, default=0.2, help="engine_poll_seconds")
    parser.add_argument(
        "--per-second", type=float, default=100_000, help="warning_rules.sms.per_second"
    )
    parser.add_argument(
        "--fanout-chunk",
        type=int,
        default=0,
        help="recipients per fan-out transaction (0: FANOUT_CHUNK of the code)",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=1800.0, help="give up on the run after this long"
    )
    parser.add_argument("--profile", default=None, help="directory: cProfile each process there")
    parser.add_argument("--postgres-url", default=None, help="server to create a database in")
    parser.add_argument(
        "--pg-data",
        default=None,
        help="the PostgreSQL server's data directory, to report the CPU it used",
    )
    parser.add_argument("--log-level", default="WARNING", help="dutyd's log level")
    parser.add_argument("--helper-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.processes < 1 or (args.backend == "sqlite" and args.processes != 1):
        raise SystemExit("--processes: 1 on SQLite (one writer), 1 or more on PostgreSQL")
    if not 0 < args.recipients <= 5_000_000:
        raise SystemExit("--recipients in (0, 5e6]")
    isolate_environment()
    configure_logging(args.log_level)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    if args.helper_of:
        asyncio.run(helper_main(args))
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
