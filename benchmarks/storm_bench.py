"""Benchmark an alert storm through dutyd's Alertmanager webhook (issue #16, "Storm").

Run with `python -m benchmarks.storm_bench --backend sqlite|postgres|both [--alerts 100000]
[--seconds 60] [--sources 500] [--stations 40] [--per-notification 1,10,100]
[--concurrency 32] [--give-up 120] [--workers N] [--profile DIR]`. `--workers N` runs the
daemon as N processes (`http_workers`), each with its own group commit and engine.

The goal: 100,000 alerts in 60 s from 500 sources, none lost (every 2xx is in the
database), the right number of incidents, and the first page of each new incident within
1 s of its alert; the duty officer's phone gets digests, not thousands of texts.

dutyd: `dutyd serve` as a subprocess (see `benchmarks.intake_bench`), a fresh SQLite file
or PostgreSQL database, the repository's roster, plans and intake rules as shipped
(`config/intake.yaml`: the alertmanager source's rate limit of 60,000 a minute is a token
bucket of 60,000 refilled at 1,000/s, which lets 100,000 in 60 s through), a `source`
token, and no message provider, so pages go to the console transport (written to the
daemon's log: handing one over costs nothing).

The storm: `--alerts` firing alerts of `WaterLevelHigh` in qingshan from `--sources` label
sets (`instance`), source i at station `S<i mod stations>`, sent as Alertmanager webhook
notifications (version 4) of `--per-notification` alerts each, alert n of the storm from
source n mod sources (so a notification of K alerts carries K consecutive sources, as
Alertmanager sends a group when it groups by `[alertname, unit]`). Every alert has its
own fingerprint so that what is stored can be checked alert by alert. The sample rule
`water-level` groups by `[alertname, unit, station]`: the storm must become exactly
`--stations` incidents, every other alert counted on them. Each shape is a fresh database
and daemon.

The load: a separate process (`--generate`) with `--concurrency` keep-alive connections
over raw asyncio streams (`intake_bench`'s), each sending the next notification no earlier
than its slot on the schedule (`--alerts` evenly over `--seconds`) and no sooner than its
previous answer is read; a notification answered otherwise than 2xx, or lost to a
transport error, is sent again after 0.5 s (Alertmanager retries too), up to 10 times.
Sending stops at `--give-up` seconds whatever is left: a shape too slow for the goal
shows its rate without taking minutes. Before the storm, three notifications that no
rule maps (stored, ignored: no incident) warm the daemon up.

Afterwards: the machine reports are counted (their number and their distinct
fingerprints must both be the alerts answered 2xx), the engine is given time to work them
all, the incidents are counted and checked against the stations (each incident's count of
reports must be its station's alerts), and the daemon is left running until every new
incident has had a page handed over (or `--page-wait` s). An incident's first page is the
first of its messages handed to the transport (`sent_at`) — itself, or the digest it was
bundled into; its latency is from the first 2xx answer to a notification carrying an
alert of its station (this process's clock and the daemon's are the same machine's). The
messages handed over are counted per person and channel: the duty officer's phone.

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import aliased

from benchmarks.api_bench import (
    HOST,
    cpu_seconds,
    daemon_environment,
    free_port,
    log_trouble,
    read_log,
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
from benchmarks.intake_bench import (
    DRAIN_SECONDS,
    DUTYD_PATH,
    SOURCE,
    Load,
    Side,
    _read_answer,
    check_database,
    main_thread_cpu,
    print_profile,
    served_daemon,
    source_token,
)
from service.incidents.tables import IncidentRow
from service.intake.tables import MachineReportRow
from service.notify.tables import MessageRow

GOAL_ALERTS = 100_000
GOAL_SECONDS = 60.0
GOAL_FIRST_PAGE_S = 1.0
RETRY_AFTER_S = 0.5
MAX_TRIES = 10
WARM_UP_NOTIFICATIONS = 3
POLL_S = 0.5


# ---------------------------------------------------------------- the load generator


def notification_parts(started: str) -> tuple[bytes, bytes, str]:
    """A notification's head and tail, and one alert with `%(n)d`, `%(src)d`, `%(st)d`."""
    envelope = {
        "version": "4",
        "groupKey": '{}:{alertname="WaterLevelHigh", unit="qingshan"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "dutyd",
        "groupLabels": {"alertname": "WaterLevelHigh", "unit": "qingshan"},
        "commonLabels": {"alertname": "WaterLevelHigh", "unit": "qingshan"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": ["@ALERTS@"],
    }
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "WaterLevelHigh",
            "event_type": "flood",
            "unit": "qingshan",
            "severity": "warning",
            "station": "S@ST@",
            "instance": "gauge-@SRC@",
        },
        "annotations": {"summary": "storm alert @N@ from gauge-@SRC@"},
        "startsAt": started,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "@F@",
    }
    head, tail = json.dumps(envelope, separators=(",", ":")).split('"@ALERTS@"')
    text = json.dumps(alert, ensure_ascii=False, separators=(",", ":")).replace("%", "%%")
    for mark, spec in (("@N@", "%(n)d"), ("@SRC@", "%(src)03d"), ("@ST@", "%(st)02d")):
        text = text.replace(mark, spec)
    return head.encode(), tail.encode(), text.replace("@F@", "%(n)016x")


@dataclass
class StormSpec:
    port: int
    token: str
    alerts: int
    seconds: float  # the schedule: `alerts` evenly over this
    give_up: float  # no new notification after this long
    sources: int
    stations: int
    per_notification: int
    concurrency: int
    late: int = 0  # the last `late` stations' sources are silent in the storm's first half


def late_stations(stations: int, late: int) -> set[int]:
    return set(range(stations - late, stations))


def source_picker(spec: StormSpec) -> Callable[[int], int]:
    """Alert n's source: n mod sources, except that in the first half of the storm the
    sources of the late stations are silent (their turns go to the others)."""
    late = late_stations(spec.stations, spec.late)
    early = [src for src in range(spec.sources) if src % spec.stations not in late]
    half = spec.alerts // 2

    def source(n: int) -> int:
        return early[n % len(early)] if n < half else n % spec.sources

    return source


async def generate(spec: StormSpec) -> dict[str, Any]:
    """The storm: each connection takes the next notification, waits for its slot, sends."""
    head_json, tail_json, alert = notification_parts(
        datetime.now(UTC).isoformat(timespec="seconds")
    )
    head = (
        f"POST {DUTYD_PATH} HTTP/1.1\r\nHost: {HOST}:{spec.port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {spec.token}\r\n"
        "Content-Length: %d\r\n\r\n"
    ).encode()
    k = spec.per_notification
    total = -(-spec.alerts // k)
    pending = list(range(total - 1, -1, -1))  # popped from the end: 0 first
    interval = k / (spec.alerts / spec.seconds)
    clock = time.perf_counter
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    first_sent: dict[int, float] = {}
    first_ok: dict[int, float] = {}
    per_station: Counter[int] = Counter()
    outcome = {"alerts_ok": 0, "notifications_ok": 0, "retries": 0}
    began = clock()
    give_up_at = began + spec.give_up
    last_answer = began

    source = source_picker(spec)

    def body(j: int) -> tuple[bytes, list[int]]:
        numbers = range(j * k, min((j + 1) * k, spec.alerts))
        sources = [source(n) for n in numbers]
        stations = [src % spec.stations for src in sources]
        alerts = ",".join(
            alert % {"n": n, "src": src, "st": st}
            for n, src, st in zip(numbers, sources, stations, strict=True)
        ).encode()
        return head_json + alerts + tail_json, stations

    async def connection() -> None:
        nonlocal last_answer
        reader = writer = None
        while pending:
            j = pending.pop()
            payload, stations = body(j)
            request = head % len(payload) + payload
            slot = began + j * interval
            for _ in range(MAX_TRIES):
                now = clock()
                if now >= give_up_at:
                    pending.clear()
                    break
                if slot > now:
                    await asyncio.sleep(slot - now)
                wall_sent = time.time()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(HOST, spec.port)
                    assert reader is not None
                    sent, wall_sent = clock(), time.time()
                    writer.write(request)
                    status, closes = await _read_answer(reader)
                    wall_ok = time.time()
                    last_answer = clock()
                    latencies.append(last_answer - sent)
                    statuses[status] += 1
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[type(exc).__name__] += 1
                    status, closes = 0, True
                if closes and writer is not None:
                    writer.close()
                    reader = writer = None
                for st in stations:
                    first_sent.setdefault(st, wall_sent)
                if 200 <= status < 300:
                    outcome["alerts_ok"] += len(stations)
                    outcome["notifications_ok"] += 1
                    per_station.update(stations)
                    for st in stations:
                        first_ok.setdefault(st, wall_ok)
                    break
                outcome["retries"] += 1
                slot = clock() + RETRY_AFTER_S
        if writer is not None:
            writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(connection() for _ in range(spec.concurrency)))
    return {
        **outcome,
        "abandoned": spec.alerts - outcome["alerts_ok"],  # never answered 2xx
        "notifications": total,
        "seconds": last_answer - began,
        "cpu_seconds": time.process_time() - cpu,
        "latencies": [round(x, 6) for x in latencies],
        "statuses": {str(s): c for s, c in statuses.items()},
        "errors": dict(errors),
        "first_sent": {str(s): t for s, t in first_sent.items()},
        "first_ok": {str(s): t for s, t in first_ok.items()},
        "per_station": {str(s): c for s, c in per_station.items()},
    }


async def run_generator(spec: StormSpec) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.storm_bench",
        "--generate",
        json.dumps(vars(spec)),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), spec.give_up + 180)
    if process.returncode != 0:
        raise SystemExit(f"the load generator failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


# ---------------------------------------------------------------- one storm


@dataclass
class Storm:
    backend: str
    per_notification: int
    sent: dict[str, Any] = field(default_factory=dict)
    warm_alerts: int = 0
    load_average: str = ""
    server_cpu: float = 0.0
    loop_cpu: float = 0.0
    side: Side | None = None  # intake_bench's check: stored, drained, incidents
    distinct_stored: int = 0
    incidents: dict[int, str] = field(default_factory=dict)  # station -> dedup key
    foreign_incidents: list[str] = field(default_factory=list)
    counts_wrong: list[str] = field(default_factory=list)
    opened_at: dict[int, float] = field(default_factory=dict)  # station -> created_at
    first_page: dict[int, float] = field(default_factory=dict)  # station -> sent_at
    page_wait: float = 0.0
    pages: Counter[tuple[str, str]] = field(default_factory=Counter)  # handed over
    digests: Counter[tuple[str, str]] = field(default_factory=Counter)
    # One person's texts: (sent_at, how many messages it carried), the order they went.
    texts: list[tuple[float, int]] = field(default_factory=list)
    texts_to: str = ""
    unsent: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        name = "SQLite" if self.backend == "sqlite" else "PostgreSQL"
        return f"{name}, {self.per_notification} alert(s) a notification"

    def latencies(self, since: dict[int, float], only: set[int] | None = None) -> list[float]:
        first_ok = {int(s): t for s, t in self.sent["first_ok"].items()}
        return [
            at - first_ok[s]
            for s, at in since.items()
            if s in first_ok and (only is None or s in only)
        ]


def station_from_key(key: str | None) -> int | None:
    """`alertmanager:water-level:alertname=…,station=S07,unit=…` -> 7."""
    for part in (key or "").split(":", 2)[-1].split(","):
        name, _, value = part.partition("=")
        if name == "station" and value.startswith("S") and value[1:].isdigit():
            return int(value[1:])
    return None


async def warm_up(port: int, token: str) -> int:
    """A few notifications no rule maps (no unit): stored and ignored, no incident."""
    sent = 0
    for round_ in range(WARM_UP_NOTIFICATIONS):
        sent += await warm_up_once(port, token, round_)
    await asyncio.sleep(1.0)
    return sent


async def warm_up_once(port: int, token: str, round_: int) -> int:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "StormBenchWarmUp", "instance": f"warm-{i}"},
            "annotations": {},
            "startsAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"warm{round_:04x}{i:08x}",
        }
        for i in range(10)
    ]
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="StormBenchWarmUp"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "dutyd",
        "groupLabels": {"alertname": "StormBenchWarmUp"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        answer = await client.post(DUTYD_PATH, json=body)
        if answer.status_code != 202:
            raise SystemExit(f"warm-up: HTTP {answer.status_code} {answer.text[:300]}")
    return len(alerts)


async def read_outcome(url: str, storm: Storm, stations: int, wait: float) -> None:
    """Fingerprints, incidents by station, and each incident's first page (waited for)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            storm.distinct_stored = int(
                await connection.scalar(
                    select(func.count(distinct(MachineReportRow.fingerprint))).where(
                        MachineReportRow.source == SOURCE
                    )
                )
                or 0
            )
            counted = dict(
                (
                    await connection.execute(
                        select(MachineReportRow.incident_id, func.count())
                        .where(MachineReportRow.incident_id.is_not(None))
                        .group_by(MachineReportRow.incident_id)
                    )
                ).all()
            )
            by_id: dict[int, int] = {}
            for incident_id, key, created in await connection.execute(
                select(IncidentRow.id, IncidentRow.dedup_key, IncidentRow.created_at)
            ):
                station = station_from_key(key)
                if station is None or not 0 <= station < stations or station in storm.incidents:
                    storm.foreign_incidents.append(f"#{incident_id} {key}")
                    continue
                storm.incidents[station], by_id[incident_id] = key, station
                storm.opened_at[station] = created.timestamp()
            per_station = {int(s): c for s, c in storm.sent["per_station"].items()}
            for incident_id, station in by_id.items():
                if counted.get(incident_id, 0) != per_station.get(station, 0):
                    storm.counts_wrong.append(
                        f"S{station:02d}: {counted.get(incident_id, 0)} reports on its "
                        f"incident, {per_station.get(station, 0)} alerts answered 2xx"
                    )
        digest = aliased(MessageRow)
        query = select(
            MessageRow.incident_id,
            func.min(func.coalesce(MessageRow.sent_at, digest.sent_at)),
        ).outerjoin(digest, digest.id == MessageRow.digest_of)
        query = query.where(MessageRow.incident_id.in_(list(by_id))).group_by(
            MessageRow.incident_id
        )
        began = time.perf_counter()
        while True:
            async with engine.connect() as connection:
                firsts = {i: at for i, at in await connection.execute(query) if at is not None}
            if len(firsts) == len(by_id) or time.perf_counter() - began > wait:
                break
            await asyncio.sleep(POLL_S)
        storm.page_wait = time.perf_counter() - began
        storm.first_page = {by_id[i]: at.timestamp() for i, at in firsts.items()}
        async with engine.connect() as connection:
            for person, channel, is_digest, count in await connection.execute(
                select(
                    MessageRow.person_id,
                    MessageRow.channel,
                    MessageRow.incident_id.is_(None),
                    func.count(),
                )
                .where(MessageRow.sent_at.is_not(None))
                .group_by(
                    MessageRow.person_id, MessageRow.channel, MessageRow.incident_id.is_(None)
                )
            ):
                storm.pages[(person, channel)] += count
                if is_digest:
                    storm.digests[(person, channel)] += count
            storm.texts_to = min((p for p, c in storm.pages if c == "sms"), default="")
            carried = aliased(MessageRow)
            storm.texts = [
                (at.timestamp(), max(count, 1))
                for at, count in await connection.execute(
                    select(MessageRow.sent_at, func.count(carried.id))
                    .outerjoin(carried, carried.digest_of == MessageRow.id)
                    .where(
                        MessageRow.sent_at.is_not(None),
                        MessageRow.person_id == storm.texts_to,
                        MessageRow.channel == "sms",
                    )
                    .group_by(MessageRow.id, MessageRow.sent_at)
                    .order_by(MessageRow.sent_at)
                )
            ]
            storm.unsent = int(
                await connection.scalar(
                    select(func.count()).where(MessageRow.state.in_(["pending", "sending"]))
                )
                or 0
            )
    finally:
        await engine.dispose()


async def bench_storm(
    backend: str, per_notification: int, args: argparse.Namespace, postgres_url: str | None
) -> Storm:
    storm = Storm(backend, per_notification)
    with tempfile.TemporaryDirectory(prefix="dutyd-storm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with database_for(backend, tmp, postgres_url, "dutyd_bench_storm") as url:
            env = daemon_environment(tmp, url if backend == "postgres" else None)
            env["DUTYD_HTTP_WORKERS"] = str(args.workers)
            token = await source_token(env)
            port = free_port()
            profile = (
                args.profile / f"storm-{backend}-{per_notification}.prof" if args.profile else None
            )
            log = tmp / "dutyd.log"
            async with served_daemon(env, port, log, profile) as process:
                storm.warm_alerts = await warm_up(port, token)
                spec = StormSpec(
                    port=port,
                    token=token,
                    alerts=args.alerts,
                    seconds=args.seconds,
                    give_up=args.give_up,
                    sources=args.sources,
                    stations=args.stations,
                    per_notification=per_notification,
                    concurrency=args.concurrency,
                    late=args.late_stations,
                )
                storm.load_average = load_average()
                server, loop = cpu_seconds(process.pid), main_thread_cpu(process.pid)
                if profile is not None:
                    process.send_signal(signal.SIGUSR1)
                storm.sent = await run_generator(spec)
                if profile is not None:
                    process.send_signal(signal.SIGUSR2)
                storm.server_cpu = cpu_seconds(process.pid) - server
                storm.loop_cpu = main_thread_cpu(process.pid) - loop
                storm.side = Side(storm.label, Load())
                await check_database(url, storm.side)
                await read_outcome(url, storm, args.stations, args.page_wait)
            text = read_log(log)
            storm.notes, storm.traceback = log_trouble(text)
            storm.warnings = [
                line
                for line in text.splitlines()
                if "[warning" in line and "transport.console" not in line
            ][:3]
            if profile is not None and profile.exists():
                print_profile(profile)
    return storm


# ---------------------------------------------------------------- the report


def alerts_rate(storm: Storm) -> float:
    seconds = storm.sent["seconds"]
    return storm.sent["alerts_ok"] / seconds if seconds else 0.0


def verdict(storm: Storm, args: argparse.Namespace) -> tuple[bool, list[str]]:
    """Whether this storm met the goal, and what missed."""
    sent, side = storm.sent, storm.side
    assert side is not None
    stored_storm = (side.stored or 0) - storm.warm_alerts
    misses = []
    if sent["alerts_ok"] < args.alerts or sent["seconds"] > args.seconds * 1.02:
        misses.append(f"{sent['alerts_ok']} alerts in {sent['seconds']:.1f} s")
    if stored_storm != sent["alerts_ok"] or storm.distinct_stored != side.stored:
        misses.append("stored != 2xx")
    if len(storm.incidents) != args.stations or storm.foreign_incidents or storm.counts_wrong:
        misses.append("incidents")
    pages = storm.latencies(storm.first_page)
    if len(pages) < len(storm.incidents) or not pages or max(pages) > GOAL_FIRST_PAGE_S:
        misses.append("first page")
    return not misses, misses


def describe(storm: Storm, args: argparse.Namespace) -> None:
    sent, side = storm.sent, storm.side
    assert side is not None
    k = storm.per_notification
    processes = f", {args.workers} daemon processes" if args.workers > 1 else ""
    print(f"\n== storm, {storm.label}: {args.concurrency} connections{processes} ==")
    statuses = {s: c for s, c in sent["statuses"].items() if not s.startswith("2")}
    rate = alerts_rate(storm)
    print(
        f"  sent: {sent['alerts_ok']} of {args.alerts} alerts answered 2xx in "
        f"{sent['notifications_ok']} notifications, {sent['seconds']:.1f} s "
        f"(schedule {args.seconds:.0f} s) = {rate:.0f} alerts/s, "
        f"{sent['notifications_ok'] / sent['seconds'] if sent['seconds'] else 0:.1f} "
        f"notifications/s"
        + (f"; not 2xx {statuses}" if statuses else "")
        + (f"; transport errors {sent['errors']}" if sent["errors"] else "")
        + (f"; {sent['retries']} resent" if sent["retries"] else "")
        + (
            f"; ** {sent['abandoned']} alerts never answered 2xx (gave up) **"
            if sent["abandoned"]
            else ""
        )
    )
    print(f"  notification latency {summary_ms(sent['latencies'])}")
    print(
        f"  CPU: server {storm.server_cpu:.1f} s ({storm.server_cpu / sent['seconds']:.0%} of a "
        f"core, event loop thread {storm.loop_cpu / sent['seconds']:.0%}; "
        f"{1e6 * storm.server_cpu / max(1, sent['alerts_ok']):.0f} µs an alert); generator "
        f"{sent['cpu_seconds']:.1f} s; load average before: {storm.load_average}"
    )
    stored_storm = (side.stored or 0) - storm.warm_alerts
    lost = sent["alerts_ok"] - stored_storm
    print(
        f"  stored: {stored_storm} storm alerts (+{storm.warm_alerts} warm-up), "
        f"{storm.distinct_stored} distinct fingerprints in all; 2xx {sent['alerts_ok']}: "
        + ("none lost" if lost == 0 and storm.distinct_stored == side.stored else "** MISMATCH **")
    )
    drained = (
        f"all worked {side.drain_seconds:.1f} s after the storm"
        if side.drain_seconds is not None
        else f"** {side.left_accepted} NOT worked {DRAIN_SECONDS:.0f} s after the storm **"
    )
    print(
        f"  engine: {drained}; incidents {side.incidents} (expected {args.stations}, one a "
        f"station), {len(storm.incidents)} of them stations'"
        + (f"; ** other: {storm.foreign_incidents[:3]} **" if storm.foreign_incidents else "")
        + (f"; ** counts wrong: {storm.counts_wrong[:3]} **" if storm.counts_wrong else "")
    )
    late = late_stations(args.stations, args.late_stations)
    for what, only in (
        ("all", None),
        ("from the start", set(range(args.stations)) - late),
        ("from midway", late),
    ):
        if only is not None and not (only and args.late_stations):
            continue
        opened = summary_ms(storm.latencies(storm.opened_at, only))
        paged = summary_ms(storm.latencies(storm.first_page, only))
        print(f"  {what}: first 2xx -> incident opened {opened}")
        print(f"  {what}: first 2xx -> first page      {paged}")
    pages = storm.latencies(storm.first_page)
    print(
        f"  {len(pages)} of {len(storm.incidents)} incidents paged "
        f"(waited {storm.page_wait:.1f} s for pages after the engine drained)"
    )
    if pages:
        late = sum(1 for x in pages if x > GOAL_FIRST_PAGE_S)
        print(f"    over {GOAL_FIRST_PAGE_S:.0f} s: {late}")
    people = ", ".join(
        f"{person} {channel} {count}"
        + (
            f" ({storm.digests[(person, channel)]} digests)"
            if storm.digests[(person, channel)]
            else ""
        )
        for (person, channel), count in sorted(storm.pages.items())
    )
    print(
        f"  handed over: {sum(storm.pages.values())} messages: {people or 'none'}; "
        f"{storm.unsent} still queued"
    )
    if storm.texts and storm.sent.get("first_ok"):
        start = min(storm.sent["first_ok"].values())
        went = ", ".join(f"+{at - start:.2f} s ({n})" for at, n in storm.texts[:12])
        print(f"  texts to {storm.texts_to} from the storm's first 2xx (messages each): {went}")
    for what, count in sorted(storm.notes.items()):
        print(f"  daemon log: {what}: {count}")
    for line in storm.warnings:
        print(f"    {line[:200]}")
    if storm.traceback:
        print("  the first traceback in the daemon's log:")
        for line in [*storm.traceback[:8], "…", *storm.traceback[-6:]]:
            print(f"    {line[:200]}")
    met, misses = verdict(storm, args)
    print(
        f"  goal ({args.alerts} alerts in {args.seconds:.0f} s, none lost, {args.stations} "
        f"incidents, first page <= {GOAL_FIRST_PAGE_S:.0f} s): "
        + ("met" if met else f"MISSED ({'; '.join(misses)})")
        + f" [{k} alert(s) a notification]"
    )


def summarize(storms: list[Storm], args: argparse.Namespace) -> None:
    print(
        "\n| database | shape | alerts/s | notifications/s | lost | incidents expected/opened "
        "| first page p50/p99/max | of those new midway, max | messages handed over (digests) "
        "| goal |"
    )
    print("|---|---|---:|---:|---:|---|---|---|---|---|")
    late = late_stations(args.stations, args.late_stations)
    for storm in storms:
        sent, side = storm.sent, storm.side
        assert side is not None
        pages = storm.latencies(storm.first_page)
        first = (
            "/".join(f"{percentile(pages, q) * 1000:.0f}" for q in (50, 99)) + f"/"
            f"{max(pages) * 1000:.0f} ms"
            if pages
            else "—"
        )
        midway = storm.latencies(storm.first_page, late)
        lost = sent["alerts_ok"] - ((side.stored or 0) - storm.warm_alerts)
        met, misses = verdict(storm, args)
        print(
            f"| {storm.backend} | {storm.per_notification} a notification | "
            f"{alerts_rate(storm):,.0f} | "
            f"{sent['notifications_ok'] / sent['seconds'] if sent['seconds'] else 0:,.1f} | "
            f"{lost} of {sent['alerts_ok']:,} | {args.stations}/{side.incidents} | {first} | "
            f"{f'{max(midway):.1f} s' if midway else '—'} | "
            f"{sum(storm.pages.values())} ({sum(storm.digests.values())}) | "
            f"{'met' if met else 'missed: ' + ', '.join(misses)} |"
        )


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    postgres_url = postgres_admin_url(args.postgres_url)
    if "postgres" in backends and postgres_url is None:
        raise SystemExit("no PostgreSQL server configured (see --help)")
    shapes = [int(k) for k in args.per_notification.split(",")]
    print(f"machine: {machine()}; {source_state()}; load average {load_average()}")
    print(
        f"storm: {args.alerts} alerts over {args.seconds:.0f} s from {args.sources} sources at "
        f"{args.stations} stations; {', '.join(map(str, shapes))} alert(s) a notification; "
        f"giving up after {args.give_up:.0f} s"
    )
    storms = []
    for backend in backends:
        for k in shapes:
            storm = await bench_storm(backend, k, args, postgres_url)
            describe(storm, args)
            storms.append(storm)
    summarize(storms, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--alerts", type=int, default=GOAL_ALERTS)
    parser.add_argument("--seconds", type=float, default=GOAL_SECONDS, help="the schedule")
    parser.add_argument("--sources", type=int, default=500, help="alert label sets")
    parser.add_argument("--stations", type=int, default=40, help="stations (incidents)")
    parser.add_argument(
        "--per-notification", default="1,10,100", help="alerts a notification, one run each"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="connections")
    parser.add_argument("--workers", type=int, default=1, help="http_workers of the daemon")
    parser.add_argument(
        "--late-stations",
        type=int,
        default=None,
        help="stations whose alerts begin only halfway (new incidents mid-storm; "
        "default a quarter of --stations)",
    )
    parser.add_argument(
        "--give-up", type=float, default=120.0, help="send nothing new after this long"
    )
    parser.add_argument(
        "--page-wait", type=float, default=120.0, help="how long to wait for first pages"
    )
    parser.add_argument("--profile", default=None, help="run the daemon under cProfile here")
    parser.add_argument("--postgres-url", default=None, help="server to create a database in")
    parser.add_argument("--generate", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        result = asyncio.run(generate(StormSpec(**json.loads(args.generate))))
        json.dump(result, sys.stdout)
        return
    if not (
        0 < args.alerts <= 10_000_000
        and 0 < args.seconds <= 600
        and args.seconds <= args.give_up <= 1200
        and 1 <= args.stations <= min(args.sources, 100)
        and 1 <= args.concurrency <= 2000
    ):
        raise SystemExit(
            "--alerts in (0, 1e7], --seconds in (0, 600], --seconds <= --give-up <= 1200, "
            "1 <= --stations <= min(--sources, 100), 1 <= --concurrency <= 2000"
        )
    if args.late_stations is None:
        args.late_stations = args.stations // 4
    if not 0 <= args.late_stations < args.stations:
        raise SystemExit("--late-stations in [0, --stations)")
    if args.profile:
        args.profile = Path(args.profile).resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
