"""Benchmark the web console: the board for 500 units and 1,000 open incidents, and live
updates over Server-Sent Events to 100 consoles.

Run with `python -m benchmarks.console_bench [--database-url postgresql+asyncpg://...]`.

The roster is synthetic and deterministic: a city (`city`), 49 counties under it and 450
towns under the counties (9 each), 500 units in all. Every unit has a duty_officer and a
leader_on_shift rotation of two people each (daily 24-hour shifts from 08:30); the city
has an office director too. The duty rules are those of config/duty_rules.yaml with the
city in place of Linjiang, and one master plan covers every unit (written to a temporary
directory). The database is a SQLite file by default; with `--database-url` naming a
PostgreSQL server, a fresh database is created on that server and dropped afterwards.

1,000 incidents are logged through `service.flows.incidents.report_incident` in a few
transactions (report duties, escalation rows, pages queued: the real flow), spread over
the units with a deterministic mix of categories and levels, learned of up to 12 hours
ago (so some reports are late). The engine does not run: nothing changes the database
while the board is measured but what the benchmark does.

Board: a viewer with `Grant(Role.viewer)` on every unit, logged in through an invitation,
fetches `GET /console` (the page, with the 72-hour coverage-gap check) and
`GET /console/board` (the fragment htmx fetches on each change) through an in-process
httpx ASGI client: warm-up, then `--repeat` timed requests of each. Then `build_board`
and `service.web.render.page` are called directly and timed apart (and build_board's
parts: who is on for every unit, the incident lines, undelivered messages, the gap check),
to show where a request's time goes. `--profile` adds a cProfile of the board request.

Live updates: the app is served by uvicorn on 127.0.0.1 in this process and event loop
(as tests/web/served.py does). `--consoles` accounts each accept an invitation over HTTP
and keep their own session cookie; each opens `GET /console/events?view=board` with
httpx streaming, as the board page does. Once every console has had its initial event and
the stream has been quiet for a while, one incident is logged and committed through the
flow; for each console the delay from the end of the commit to its next update (a `rows`
event with the touched incidents' rows, or `changed`) is measured. `--rounds` such rounds,
a random fraction of the feed's poll interval apart. A last round measures the delay until
each console's stream has carried the new incident's row, which the board page inserts
without fetching anything (the time until an officer actually sees it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.engine_bench import (
    fresh_postgres_database,
    incident_reports,
    isolate_environment,
    machine,
    percentile,
    source_state,
)
from service.app import Dutyd
from service.auth.policy import Action, Grant, Role
from service.catalog import Channel
from service.clock import SystemClock
from service.escalation.tables import EscalationStepRow
from service.flows.incidents import report_incident
from service.incidents.models import IncidentReport
from service.incidents.tables import IncidentRow, TimelineEntryRow
from service.logs import configure_logging
from service.notify.tables import MessageRow
from service.process import tune_garbage_collector
from service.reports.tables import ReportDutyRow
from service.roster.check import check_roster
from service.web import board as board_module
from service.web.board import GAPS_AHEAD, build_board, open_incident_lines, undelivered, unit_now
from service.web.context import COOKIE, Viewer, viewer_for
from service.web.live import POLL_SECONDS
from service.web.render import page
from tests.conftest import make_settings
from tests.fakes.recording import RecordingTransport
from tests.web.console_helpers import PASSWORD, console_client, csrf_of, make_account
from tests.web.served import serve_console

UNITS = 500
COUNTIES = 49  # under the city; the other units are towns under the counties
INCIDENTS = 1_000
CONSOLES = 100
LOAD_BATCH = 250  # incidents per loading transaction
LEARNED_UP_TO = timedelta(hours=12)
SEED = 20261202

BOARD_GOAL_MS = 200.0  # judged on the p95 of each request
SSE_GOAL_S = 1.0
LAG_TICK = 0.01  # seconds the event-loop lag sampler sleeps

T = TypeVar("T")


# ---------------------------------------------------------------- roster, rules, plans


def unit_ids(units: int = UNITS) -> list[str]:
    """`city`, then `county_01` … `county_49`, then the towns `town_0001` …"""
    counties = min(COUNTIES, units - 1)
    return (
        ["city"]
        + [f"county_{n:02d}" for n in range(1, counties + 1)]
        + [f"town_{n:04d}" for n in range(1, units - counties)]
    )


def _person(pid: str, name: str, unit: str, title: str, rank: int, phone: int) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "unit": unit,
        "title": title,
        "rank": rank,
        "contacts": [
            {"channel": "sms", "address": f"+86139{phone:08d}"},
            {"channel": "email", "address": f"{pid}@bench.example.gov.cn"},
        ],
    }


def roster_data(units: int = UNITS) -> dict[str, Any]:
    """The roster seed: 500 units in three tiers, two officers and two leaders each."""
    ids = unit_ids(units)
    counties = [u for u in ids if u.startswith("county_")]
    data: dict[str, Any] = {"units": [], "people": [], "rotations": [], "positions": []}
    phone = 0
    for index, unit_id in enumerate(ids):
        if unit_id == "city":
            name, parent = "临江市人民政府总值班室", None
        elif unit_id.startswith("county_"):
            name, parent = f"第{unit_id[-2:]}县人民政府值班室", "city"
        else:
            town = int(unit_id[-4:])
            name, parent = f"第{town}镇值班室", counties[(town - 1) % len(counties)]
        unit: dict[str, Any] = {"id": unit_id, "name": name}
        if parent is None:
            unit["timezone"] = "Asia/Shanghai"
        else:
            unit["parent"] = parent
        data["units"].append(unit)
        officers = [f"{unit_id}_officer_{n}" for n in (1, 2)]
        leaders = [f"{unit_id}_leader_{n}" for n in (1, 2)]
        for n, pid in enumerate(officers, 1):
            phone += 1
            data["people"].append(_person(pid, f"值班员{index}-{n}", unit_id, "值班员", 2, phone))
        for n, pid in enumerate(leaders, 1):
            phone += 1
            rank = 6 if unit_id == "city" else 5
            data["people"].append(
                _person(pid, f"带班领导{index}-{n}", unit_id, "副职", rank, phone)
            )
        for role, people in (("duty_officer", officers), ("leader_on_shift", leaders)):
            data["rotations"].append(
                {
                    "unit": unit_id,
                    "role": role,
                    "shift_start": "08:30",
                    "starts_on": date(2026, 1, 1).isoformat(),
                    "people": people,
                }
            )
    phone += 1
    data["people"].append(_person("city_director", "总值班室主任", "city", "主任", 5, phone))
    data["positions"].append({"unit": "city", "role": "office_director", "person": "city_director"})
    return data


DUTY_RULES = {
    "defaults": {
        "duty_officer": {"min_count": 1, "max_consecutive_shifts": 2, "min_rest": "12h"},
        "leader_on_shift": {"min_count": 1, "min_rank": 4, "max_consecutive_shifts": 7},
        "leader_not_duty_officer": True,
        "contact_required": True,
    },
    "enhanced": {"leader_on_shift": {"min_rank": 5}},
    "units": {"city": {"leader_on_shift": {"min_rank": 5}}},
    "enhanced_units": {
        "city": {"duty_officer": {"min_count": 2}, "leader_on_shift": {"min_rank": 6}}
    },
    "warn_days_ahead": 7,
}

TOP_OFFICER = [{"role": "duty_officer", "unit": "top"}]
MASTER_PLAN = {
    "id": "bench-master",
    "kind": "master",
    "title": "基准测试总体应急预案",
    "scope": {"units": ["city"], "levels": ["I", "II", "III", "IV"]},
    "defaults": {
        "response": {"level": "IV", "command": [{"role": "leader_on_shift"}]},
        "reports": {
            "initial": {
                "to": TOP_OFFICER,
                "deadline": "1h",
                "via": ["phone"],
                "remind_before": "15m",
            },
            "written": {
                "to": TOP_OFFICER,
                "deadline": "6h",
                "via": ["written"],
                "remind_before": "1h",
            },
            "followups": {"to": TOP_OFFICER, "every": "24h"},
            "final": {"to": TOP_OFFICER, "deadline": "7d"},
        },
        "escalation": {
            "steps": [
                {
                    "notify": [{"role": "duty_officer"}, {"role": "leader_on_shift"}],
                    "channels": ["sms", "email"],
                    "wait": "30m",
                },
                {
                    "notify": [{"role": "leader_on_shift", "unit": "parent"}],
                    "channels": ["sms", "email"],
                    "wait": "30m",
                },
                {
                    "notify": [{"role": "leader_on_shift", "unit": "top"}],
                    "channels": ["sms", "email"],
                    "wait": "30m",
                },
            ],
            "after_last": "alert_duty_office",
        },
    },
    "levels": {
        "I": {
            "reports": {
                "initial": {"to": TOP_OFFICER, "deadline": "15m", "via": ["phone"]},
                "written": {"to": TOP_OFFICER, "deadline": "30m", "via": ["written"]},
            }
        },
        "II": {
            "reports": {
                "initial": {"to": TOP_OFFICER, "deadline": "30m", "via": ["phone"]},
                "written": {"to": TOP_OFFICER, "deadline": "1h", "via": ["written"]},
            }
        },
    },
}


def write_inputs(tmp: Path, units: int) -> dict[str, Path]:
    """Roster seed, duty rules and the plan directory, as YAML files under `tmp`."""
    plans = tmp / "plans"
    plans.mkdir()
    files = {
        "roster_file": tmp / "roster.yaml",
        "duty_rules_file": tmp / "duty_rules.yaml",
        "plans_dir": plans,
    }
    for path, data in (
        (files["roster_file"], roster_data(units)),
        (files["duty_rules_file"], DUTY_RULES),
        (plans / "master.yaml", MASTER_PLAN),
    ):
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return files


# ---------------------------------------------------------------- set-up


@asynccontextmanager
async def database(tmp: Path, given: str | None) -> AsyncIterator[str]:
    if given is None:
        yield f"sqlite+aiosqlite:///{tmp / 'dutyd.db'}"
        return
    if make_url(given).get_backend_name() != "postgresql":
        raise SystemExit("--database-url: a postgresql+asyncpg:// server URL (default: SQLite)")
    async with fresh_postgres_database(given, "dutyd_bench_console") as url:
        yield url


@asynccontextmanager
async def started_dutyd(tmp: Path, url: str, units: int) -> AsyncIterator[Dutyd]:
    transport = RecordingTransport()
    settings = make_settings(
        tmp,
        database_url=url,
        worker_name="bench",
        shift_reminder_hours=0,
        **write_inputs(tmp, units),
    )
    dutyd = Dutyd(
        settings,
        clock=SystemClock(),
        transports={Channel.sms: transport, Channel.email: transport, Channel.voice: transport},
    )
    await dutyd.start()
    tune_garbage_collector()  # as `dutyd serve` does once started
    try:
        yield dutyd
    finally:
        await dutyd.stop()


def reports_for(count: int, units: Sequence[str], now: datetime) -> list[IncidentReport]:
    """engine_bench's mix of categories and levels over these units, learned of at
    instants spread over the last 12 hours."""
    rng = random.Random(SEED)
    return [
        report.model_copy(
            update={
                "learned_at": now - rng.uniform(0, 1) * LEARNED_UP_TO,
                "title": f"基准事件 {n}",
            }
        )
        for n, report in enumerate(incident_reports(count, units, seed=SEED))
    ]


async def log_incidents(dutyd: Dutyd, reports: Sequence[IncidentReport]) -> None:
    for start in range(0, len(reports), LOAD_BATCH):
        async with dutyd.sessions.begin() as session:
            now = dutyd.clock.now()
            for report in reports[start : start + LOAD_BATCH]:
                await report_incident(
                    session,
                    report,
                    roster=dutyd.runtime.roster,
                    plans=dutyd.runtime.plans,
                    reporter="bench",
                    now=now,
                    worker=dutyd.worker,
                )


async def log_one(dutyd: Dutyd, n: int) -> tuple[int, float]:
    """Log and commit one incident through the flow; its id and the end of the commit."""
    units = sorted(dutyd.runtime.roster.units)
    report = incident_reports(1, units, seed=SEED + n)[0].model_copy(
        update={"title": f"新事件 {n}"}
    )
    async with dutyd.sessions.begin() as session:
        row, _ = await report_incident(
            session,
            report,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            reporter="bench",
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
        incident_id = row.id
    return incident_id, time.perf_counter()


async def count_rows(dutyd: Dutyd) -> dict[str, int]:
    out = {}
    async with dutyd.reads() as session:
        for name, model in (
            ("incidents", IncidentRow),
            ("escalation_steps", EscalationStepRow),
            ("report_duties", ReportDutyRow),
            ("messages", MessageRow),
            ("timeline_entries", TimelineEntryRow),
        ):
            out[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return out


# ---------------------------------------------------------------- the board


@dataclass
class BoardResult:
    page: list[float] = field(default_factory=list)
    fragment: list[float] = field(default_factory=list)
    page_cold: list[float] = field(default_factory=list)  # gap check not reused
    page_bytes: int = 0
    rows_shown: int = 0
    gaps_shown: int = 0
    parts: dict[str, list[float]] = field(default_factory=dict)
    profile: str = ""


async def timed(action: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    began = time.perf_counter()
    result = await action()
    return time.perf_counter() - began, result


async def viewer_of(dutyd: Dutyd, client: httpx.AsyncClient) -> Viewer:
    async with dutyd.sessions.begin() as session:
        viewer = await viewer_for(session, dutyd, client.cookies.get(COOKIE))
    assert viewer is not None, "the benchmark's console is not logged in"
    return viewer


def board_values(dutyd: Dutyd, viewer: Viewer, board: Any, units: list[str]) -> dict[str, Any]:
    """What `board_pages._board_values` hands the template."""
    roster = dutyd.runtime.roster
    return {
        "viewer": viewer,
        "board": board,
        "zones": {u: roster.unit(u).zone for u in units},
        "may_log": any(viewer.may(Action.report_incident, u, roster) for u in units),
    }


async def measure_board(
    dutyd: Dutyd, *, warmup: int, repeat: int, open_incidents: int, profile: bool
) -> BoardResult:
    result = BoardResult()
    client = await console_client(dutyd, "city_officer_1", Grant(Role.viewer))
    try:
        for _ in range(warmup):
            for path in ("/console", "/console/board"):
                (await client.get(path)).raise_for_status()
        for _ in range(repeat):
            for path, samples in (("/console", result.page), ("/console/board", result.fragment)):
                seconds, answer = await timed(lambda path=path: client.get(path))  # type: ignore[misc]
                if answer.status_code != 200:
                    raise SystemExit(f"GET {path}: HTTP {answer.status_code}: {answer.text[:300]}")
                samples.append(seconds)
                if path == "/console":
                    result.page_bytes = len(answer.content)
                    result.rows_shown = answer.text.count('<tr class="incident"')
        # Work in progress in service/web/board.py may reuse the gap check for a few
        # minutes (a dict `_gaps_seen`): then also time the page as the first request of
        # such a period sees it, with that cache emptied before each request.
        seen = getattr(board_module, "_gaps_seen", None)
        if isinstance(seen, dict):
            for _ in range(repeat):
                seen.clear()
                seconds, answer = await timed(lambda: client.get("/console"))
                answer.raise_for_status()
                result.page_cold.append(seconds)
        if result.rows_shown != open_incidents:
            raise SystemExit(
                f"the board shows {result.rows_shown} incidents, expected {open_incidents}"
            )

        # The same work called directly, timed apart.
        viewer = await viewer_of(dutyd, client)
        runtime = dutyd.runtime
        units = viewer.units(runtime.roster)

        async def one_viewer() -> Viewer:
            return await viewer_of(dutyd, client)

        async def build() -> Any:
            async with dutyd.reads() as session:
                return await build_board(session, runtime, units, dutyd.clock.now())

        async def lines() -> Any:
            async with dutyd.reads() as session:
                return await open_incident_lines(session, runtime, units, dutyd.clock.now())

        async def failed() -> Any:
            async with dutyd.reads() as session:
                return await undelivered(session, runtime, units, dutyd.clock.now())

        def synchronous(action: Callable[[], T]) -> Callable[[], Awaitable[T]]:
            async def run() -> T:
                return action()

            return run

        board = await build()
        result.gaps_shown = len(board.gaps)
        values = board_values(dutyd, viewer, board, units)
        now = dutyd.clock.now()
        actions: dict[str, Callable[[], Awaitable[Any]]] = {
            "login check (get_viewer)": one_viewer,
            "build_board (with_gaps=True)": build,
            "render board.html.j2 (page)": synchronous(
                lambda: page("board.html.j2", viewer.language, **values)
            ),
            "render _board.html.j2 (fragment)": synchronous(
                lambda: page("_board.html.j2", viewer.language, **values)
            ),
            "  who is on, every unit": synchronous(
                lambda: [unit_now(runtime, u, now) for u in units]
            ),
            "  open incident lines": lines,
            "  undelivered messages": failed,
            "  coverage gaps, 72 h (check_roster, uncached)": synchronous(
                lambda: check_roster(
                    runtime.roster, runtime.rules, runtime.calendar, now, now + GAPS_AHEAD, units
                )
            ),
        }
        for name, action in actions.items():
            await action()  # warm-up
            result.parts[name] = []
            for _ in range(repeat):
                seconds, _ = await timed(action)
                result.parts[name].append(seconds)

        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                (await client.get("/console")).raise_for_status()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(r"service/|jinja2/environment", 30)
            stats.sort_stats("tottime").print_stats(25)
            result.profile = out.getvalue()
    finally:
        await client.aclose()
    return result


# ---------------------------------------------------------------- live updates


@dataclass
class Console:
    client: httpx.AsyncClient
    received: list[float] = field(default_factory=list)  # perf_counter of each update
    rows: list[tuple[float, str]] = field(default_factory=list)  # each `rows` event's data
    task: asyncio.Task[None] | None = None
    error: str = ""


@dataclass
class LiveResult:
    consoles: int
    login_seconds: float = 0.0
    connect_seconds: float = 0.0
    commits: list[float] = field(default_factory=list)
    rounds: list[list[float]] = field(default_factory=list)  # per round, delay per console
    missing: int = 0  # console-rounds with no event within the time allowed
    early: int = 0  # events received between the start and the end of a commit
    seen: list[float] = field(default_factory=list)  # commit end → board with the incident
    seen_missing: int = 0
    seen_bytes: int = 0
    loop_lag: list[float] = field(default_factory=list)  # while every console refetches


async def listen(console: Console, wake: asyncio.Condition) -> None:
    """Read the console's event stream as the board page opens it (`?view=board`); note
    the time of each update (`changed`, or `rows`: the touched incidents' rows)."""
    try:
        async with console.client.stream("GET", "/console/events?view=board") as response:
            if response.status_code != 200:
                console.error = f"HTTP {response.status_code}"
                return
            name, data = "message", []
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif not line:
                    if name in ("changed", "rows"):
                        at = time.perf_counter()
                        console.received.append(at)
                        if name == "rows":
                            console.rows.append((at, "\n".join(data)))
                        async with wake:
                            wake.notify_all()
                    name, data = "message", []
    except httpx.HTTPError as exc:
        console.error = f"{type(exc).__name__}: {exc}"
    finally:
        async with wake:
            wake.notify_all()


async def wait_until(wake: asyncio.Condition, done: Callable[[], bool], seconds: float) -> bool:
    async with wake:
        try:
            await asyncio.wait_for(wake.wait_for(done), seconds)
        except TimeoutError:
            return False
    return True


async def quiet(consoles: Sequence[Console], seconds: float) -> None:
    """Until no console has had an event for `seconds` (the feed polls every 0.5 s)."""
    while True:
        last = max((c.received[-1] for c in consoles if c.received), default=0.0)
        left = last + seconds - time.perf_counter()
        if left <= 0:
            return
        await asyncio.sleep(left)


async def open_consoles(
    dutyd: Dutyd, base_url: str, count: int, result: LiveResult
) -> list[Console]:
    roster = dutyd.runtime.roster
    people = sorted(p for p in roster.people if p.endswith("_officer_2") or p.endswith("_leader_2"))
    if len(people) < count:
        raise SystemExit(f"--consoles: the roster has only {len(people)} people to log in")
    began = time.perf_counter()
    consoles = []
    for person in people[:count]:
        secret = await make_account(dutyd, person, Grant(Role.viewer))
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(60.0, read=None),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        form = await client.get(f"/console/invite/{secret}")
        # Not kept alive: the stream opens later, by when uvicorn may be closing an idle
        # connection (timeout_keep_alive 5 s), which httpx would fail to reuse.
        answer = await client.post(
            f"/console/invite/{secret}",
            data={"password": PASSWORD, "password_again": PASSWORD, "csrf": csrf_of(form.text)},
            headers={"Connection": "close"},
        )
        if answer.status_code != 303 or not client.cookies.get(COOKIE):
            raise SystemExit(f"{person} could not log in: HTTP {answer.status_code}")
        consoles.append(Console(client))
    result.login_seconds = time.perf_counter() - began
    return consoles


async def measure_live(
    dutyd: Dutyd, *, consoles: int, rounds: int, wait_seconds: float, seen_round: bool
) -> LiveResult:
    result = LiveResult(consoles=consoles)
    rng = random.Random(SEED)
    wake = asyncio.Condition()
    async with serve_console(dutyd) as base_url:
        opened = await open_consoles(dutyd, base_url, consoles, result)
        try:
            began = time.perf_counter()
            for console in opened:
                console.task = asyncio.create_task(listen(console, wake))
            if not await wait_until(
                wake, lambda: all(c.received or c.error for c in opened), wait_seconds
            ):
                raise SystemExit(
                    f"not every console had its first event within {wait_seconds:.0f} s"
                )
            errors = [c.error for c in opened if c.error]
            if errors:
                raise SystemExit(f"{len(errors)} event streams failed: {errors[0]}")
            result.connect_seconds = time.perf_counter() - began
            for n in range(rounds + (1 if seen_round else 0)):
                await quiet(opened, 3 * POLL_SECONDS)
                await asyncio.sleep(rng.uniform(0, POLL_SECONDS))  # any phase of the poll
                before = [len(c.received) for c in opened]
                commit_began = time.perf_counter()
                if n == rounds:
                    await seen_by_all(dutyd, opened, before, result, wait_seconds)
                    continue
                _, commit_end = await log_one(dutyd, n)
                result.commits.append(commit_end - commit_began)
                await wait_until(
                    wake,
                    lambda before=before: all(  # type: ignore[misc]
                        len(c.received) > b or c.error for c, b in zip(opened, before, strict=True)
                    ),
                    wait_seconds,
                )
                delays = []
                for console, b in zip(opened, before, strict=True):
                    if len(console.received) <= b:
                        result.missing += 1
                        continue
                    at = console.received[b]
                    result.early += at < commit_end
                    delays.append(at - commit_end)
                result.rounds.append(delays)
        finally:
            for console in opened:
                if console.task is not None:
                    console.task.cancel()
            await asyncio.gather(
                *(c.task for c in opened if c.task is not None), return_exceptions=True
            )
            await asyncio.gather(*(c.client.aclose() for c in opened))
    return result


async def seen_by_all(
    dutyd: Dutyd,
    opened: Sequence[Console],
    before: list[int],
    result: LiveResult,
    wait_seconds: float,
) -> None:
    """One more incident: the delay until every board holds it, from the `rows` event
    each board's stream carries (the page inserts the row; no refetch)."""
    commit_began = time.perf_counter()
    incident_id, commit_end = await log_one(dutyd, 10_000)
    result.commits.append(commit_end - commit_began)
    marker = f'id="incident-{incident_id}"'

    rows_before = {id(c): len(c.rows) for c in opened}

    async def fetch(console: Console, b: int) -> float | None:
        """The board page shows the incident once a `rows` event carrying it arrives."""
        deadline = time.perf_counter() + wait_seconds
        while True:
            for at, data in console.rows[rows_before[id(console)] :]:
                if marker in data:
                    result.seen_bytes = len(data.encode())
                    return at - commit_end
            if time.perf_counter() > deadline or console.error:
                return None
            await asyncio.sleep(0.005)

    # How late the event loop (which the engine shares in `dutyd serve`) runs meanwhile.
    done = asyncio.Event()

    async def sample_lag() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            result.loop_lag.append(time.perf_counter() - began - LAG_TICK)

    sampler = asyncio.create_task(sample_lag())
    try:
        delays = await asyncio.gather(*(fetch(c, b) for c, b in zip(opened, before, strict=True)))
    finally:
        done.set()
        await sampler
    result.seen = [d for d in delays if d is not None]
    result.seen_missing = sum(d is None for d in delays)


# ---------------------------------------------------------------- report


def ms_summary(values_s: Sequence[float]) -> tuple[str, str, str]:
    if not values_s:
        return ("—", "—", "—")
    ms = [v * 1000 for v in values_s]
    return (
        f"{statistics.median(ms):.1f} ms",
        f"{percentile(ms, 95):.1f} ms",
        f"{max(ms):.1f} ms",
    )


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(("  " + "  ".join(cells)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * width for width in widths))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_board(result: BoardResult, repeat: int, units: int, incidents: int) -> bool:
    print(
        f"\n-- board: {units} units, {incidents} open incidents, a viewer of every unit "
        f"({result.rows_shown} rows, {result.gaps_shown} coverage gaps shown; page "
        f"{result.page_bytes / 1024:.0f} KiB) --"
    )
    rows: list[tuple[str, ...]] = [("measurement", "median", "p95", "max")]
    rows.append((f"GET /console, {repeat} requests", *ms_summary(result.page)))
    rows.append((f"GET /console/board, {repeat} requests", *ms_summary(result.fragment)))
    if result.page_cold:
        rows.append(("GET /console, gap check not reused", *ms_summary(result.page_cold)))
    for name, samples in result.parts.items():
        rows.append((name, *ms_summary(samples)))
    table(rows)
    request = statistics.median(result.page)
    build = statistics.median(result.parts["build_board (with_gaps=True)"])
    render = statistics.median(result.parts["render board.html.j2 (page)"])
    login = statistics.median(result.parts["login check (get_viewer)"])
    print(
        f"  share of GET /console (medians): build_board {100 * build / request:.0f} %, "
        f"template rendering {100 * render / request:.0f} %, login check "
        f"{100 * login / request:.0f} %, the rest (HTTP, ASGI, response) "
        f"{100 * max(0.0, request - build - render - login) / request:.0f} %"
    )
    if result.profile:
        print("\n  cProfile of 5 GET /console:")
        for line in result.profile.splitlines():
            print(f"    {line}"[:200])
    worst = max(percentile(result.page, 95), percentile(result.fragment, 95)) * 1000
    ok = worst < BOARD_GOAL_MS
    print(
        f"{verdict(ok)}: board for {units} units and {incidents} open incidents renders in "
        f"under {BOARD_GOAL_MS:.0f} ms (p95 of GET /console and GET /console/board: "
        f"{percentile(result.page, 95) * 1000:.0f} and "
        f"{percentile(result.fragment, 95) * 1000:.0f} ms)"
    )
    return ok


def report_live(result: LiveResult) -> bool:
    print(
        f"\n-- live updates: {result.consoles} consoles on /console/events over HTTP "
        f"(uvicorn, 127.0.0.1); logins {result.login_seconds:.1f} s, all first events "
        f"{result.connect_seconds:.2f} s after opening the streams --"
    )
    every = [d for delays in result.rounds for d in delays]
    rows: list[tuple[str, ...]] = [("measurement", "median", "p95", "max", "within 1 s")]
    rows.append(("log + commit one incident (flow)", *ms_summary(result.commits), ""))
    for n, delays in enumerate(result.rounds, 1):
        within = sum(1 for d in delays if d <= SSE_GOAL_S)
        rows.append(
            (
                f"round {n}: commit end → update",
                *ms_summary(delays),
                f"{within}/{result.consoles}",
            )
        )
    within_all = sum(1 for d in every if d <= SSE_GOAL_S)
    rows.append(
        (
            f"all {len(result.rounds)} rounds",
            *ms_summary(every),
            f"{within_all}/{result.consoles * len(result.rounds)}",
        )
    )
    if result.seen or result.seen_missing:
        within = sum(1 for d in result.seen if d <= SSE_GOAL_S)
        rows.append(
            (
                "commit end → board with it (`rows` event)",
                *ms_summary(result.seen),
                f"{within}/{result.consoles}",
            )
        )
    if result.loop_lag:
        rows.append(("  meanwhile, event loop late by", *ms_summary(result.loop_lag), ""))
    table(rows)
    if result.loop_lag:
        print(
            f"  while the boards were updated, the event loop (the engine's too, in dutyd "
            f"serve) was held for over 100 ms {sum(1 for v in result.loop_lag if v > 0.1)} "
            f"times, {sum(v for v in result.loop_lag if v > 0.1):.1f} s in all; `rows` events "
            f"of {result.seen_bytes / 1024:.1f} KiB"
        )
    if result.missing or result.early:
        print(
            f"  {result.missing} console-rounds had no event in time; {result.early} events "
            "arrived before the commit ended"
        )
    if result.seen_missing:
        print(f"  {result.seen_missing} consoles did not get a board with the new incident")
    worst_round = min(
        (sum(1 for d in delays if d <= SSE_GOAL_S) for delays in result.rounds), default=0
    )
    ok = worst_round == result.consoles and not result.missing
    print(
        f"{verdict(ok)}: {result.consoles} consoles over SSE each get an update within "
        f"{SSE_GOAL_S:.0f} s of the commit ({worst_round}/{result.consoles} in the worst of "
        f"{len(result.rounds)} rounds; max {max(every, default=float('nan')) * 1000:.0f} ms)"
    )
    if result.seen or result.seen_missing:
        within = sum(1 for d in result.seen if d <= SSE_GOAL_S)
        seen_ok = within == result.consoles
        print(
            f"{verdict(seen_ok)}: {result.consoles} consoles each show the new incident on "
            f"their board within {SSE_GOAL_S:.0f} s (the `rows` event the board page inserts): "
            f"{within}/{result.consoles}, max "
            f"{max(result.seen, default=float('nan')):.1f} s"
        )
    return ok


# ---------------------------------------------------------------- main


async def main_async(args: argparse.Namespace) -> None:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print("Console benchmark")
    print(f"  machine : {machine()}; {source_state()}")
    print(
        f"  database: {backend}"
        + (f" (a fresh database on {args.database_url})" if args.database_url else " file")
    )
    with tempfile.TemporaryDirectory(prefix="dutyd-console-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with (
            database(tmp, args.database_url) as url,
            started_dutyd(tmp, url, args.units) as dutyd,
        ):
            roster = dutyd.runtime.roster
            units = sorted(roster.units)
            began, cpu = time.perf_counter(), time.process_time()
            await log_incidents(dutyd, reports_for(args.incidents, units, dutyd.clock.now()))
            load_seconds = time.perf_counter() - began
            rows = await count_rows(dutyd)
            print(
                f"  roster  : {len(units)} units, {len(roster.people)} people; "
                f"{args.incidents} incidents logged in {load_seconds:.1f} s "
                f"({time.process_time() - cpu:.1f} s CPU); rows: "
                + ", ".join(f"{k} {v}" for k, v in rows.items())
            )
            load_before = os.getloadavg()[0]
            phase_wall, phase_cpu = time.perf_counter(), time.process_time()
            board = await measure_board(
                dutyd,
                warmup=args.warmup,
                repeat=args.repeat,
                open_incidents=rows["incidents"],
                profile=args.profile,
            )
            board_share = (time.process_time() - phase_cpu) / (time.perf_counter() - phase_wall)
            board_ok = report_board(board, args.repeat, len(units), rows["incidents"])
            live_ok = True
            if args.consoles:
                live = await measure_live(
                    dutyd,
                    consoles=args.consoles,
                    rounds=args.rounds,
                    wait_seconds=args.timeout,
                    seen_round=not args.no_refetch,
                )
                live_ok = report_live(live)
    print(
        f"\n  load    : {load_before:.2f} (1-minute load average before the board), "
        f"{os.getloadavg()[0]:.2f} at the end; this process had a core "
        f"{board_share:.0%} of the board phase"
    )
    print(f"  python  : {platform.python_implementation()} {platform.python_version()}")
    print(f"\nboard target: {verdict(board_ok)}; live-update target: {verdict(live_ok)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (postgresql+asyncpg://...) to create a fresh database in; "
        "default: a SQLite file",
    )
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument("--incidents", type=int, default=INCIDENTS)
    parser.add_argument("--warmup", type=int, default=3, help="board requests not counted")
    parser.add_argument("--repeat", type=int, default=25, help="timed board requests of each")
    parser.add_argument("--consoles", type=int, default=CONSOLES, help="0: no live-update part")
    parser.add_argument("--rounds", type=int, default=5, help="incidents committed, one a round")
    parser.add_argument(
        "--no-refetch",
        action="store_true",
        help="skip the last round (the delay until every board holds the new incident)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for events")
    parser.add_argument("--profile", action="store_true", help="cProfile 5 board requests")
    parser.add_argument("--log-level", default="WARNING", help="dutyd's log level")
    args = parser.parse_args(argv)
    if args.units < 2 or args.incidents < 1 or args.repeat < 1 or args.rounds < 1:
        raise SystemExit("--units must be at least 2, --incidents, --repeat, --rounds at least 1")
    isolate_environment()
    configure_logging(args.log_level)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
