"""Benchmark the duty office's statistics: a year of 500 units with 200,000 incidents.

Run with `python -m benchmarks.statistics_bench --backend sqlite|postgres
[--incidents 200000] [--units 500] [--runs 3] [--profile]`.

Goal (issue 17): `office_figures` (GET /api/v1/statistics) for the whole year and every
unit answers in under 2 s on PostgreSQL and under 5 s on SQLite.

Setup (not timed): a fresh database (`upgrade head`, so the indexes are the migrations'),
then one year (2025) of rows bulk-inserted with SQLAlchemy Core
(`service.store.bulk.insert_rows`, one statement of arrays per chunk on PostgreSQL), all
from a fixed seed:

- 500 unit ids (`u001`…); incidents go to units by a skewed weight (the busiest unit has
  about 6 times the share of the quietest), at uniformly random instants of the year (ids
  in the order of those instants, as when they are logged as they come in), with
  a category, event type and level (IV most common), acknowledged for 96 % (a few minutes
  after being learned of) and resolved for 85 % (hours to days after). 1 % of them are
  drill incidents (`drill_id` set), which every figure must leave out;
- 2 to 4 report duties per incident (initial, follow-ups, final; 3 on average): of those
  due before "now", 2 % cancelled, 4 % recorded missing (漏报), 3 % still open and
  overdue, the rest submitted, 12 % of them late (迟报, some with an explanation);
- one instruction with 1–3 assignments for 10 % of the incidents (deadlines hours to
  days out; closed, some late, answered or open);
- one spot-check per unit per day (answered, lapsed, a few still asked);
- 2,000 warnings (95 % Actual, the rest Exercise) published over the year.

Run: each query is timed `--runs` + 1 times. The first run ("cold") is on a new engine
and its first connection: no prepared statements, an empty SQLite page cache (the
operating system's file cache may still hold the file, and PostgreSQL's shared buffers
what the setup wrote). The others are "warm". Queries: `office_figures` for the whole
year and every unit (the goal), for the year and the busiest unit, for one month (June)
and every unit, and `late_reports` for June and every unit. Each uses a read-only session
as the API does (`create_engine(reads=True)`). The figures' totals and a digest of the
whole answer are printed, so that two versions of the code can be compared on the same
data.

PostgreSQL: a database is created on the server named by --postgres-url,
DUTYD_BENCH_POSTGRES_URL, DUTYD_TEST_POSTGRES_URL or the file /tmp/pgurl, and dropped
(kept with --keep). --database-url runs the queries on a database filled before (by a
run with --keep), without the setup.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.engine_bench import (
    fresh_postgres_database,
    isolate_environment,
    machine,
    postgres_admin_url,
    source_state,
)
from service.catalog import EVENT_TYPES, Category, Level
from service.drills.tables import DrillRow
from service.flows.statistics import late_reports, office_figures
from service.incidents.tables import IncidentRow
from service.instructions.tables import AssignmentRow, InstructionRow
from service.plans.tables import PlanVersionRow
from service.reports.tables import DutyPhase, DutyState, ReportDutyRow
from service.spotchecks.tables import SpotCheckRow
from service.store import migrate
from service.store.bulk import insert_rows
from service.store.database import create_engine, is_postgres, session_factory
from service.warnings.tables import WarningRow

GOALS_S = {"sqlite": 5.0, "postgres": 2.0}
SEED = 20250117
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 12, 31, 18, 0, tzinfo=UTC)  # the last hours' reports are pending
MONTH = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
CHUNK = 10_000
PLAN_ID = "bench-plan"
DIGEST = "b" * 64
LEVELS = ((Level.I, 1), (Level.II, 4), (Level.III, 20), (Level.IV, 75))
Row = dict[str, Any]
KEPT_SQLITE = Path(tempfile.gettempdir()) / "dutyd-stats-bench" / "stats.db"
KEPT_POSTGRES = "dutyd_stats_kept"


# ---------------------------------------------------------------- the data


def unit_ids(units: int) -> list[str]:
    return [f"u{n:03d}" for n in range(1, units + 1)]


def instant(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random instant in [start, end), to the microsecond."""
    span = int((end - start).total_seconds() * 1_000_000)
    return start + timedelta(microseconds=rng.randrange(span))


def incident_rows(rng: random.Random, count: int, units: list[str], drill_id: int) -> list[Row]:
    weights = [1.0 / (1 + i) ** 0.3 for i in range(len(units))]
    levels, level_weights = zip(*LEVELS, strict=True)
    categories = list(Category)
    rows = []
    # Incidents are logged as the office learns of them: ids in the order of learned_at.
    learned_times = sorted(instant(rng, YEAR_START, YEAR_END) for _ in range(count))
    for number, learned in enumerate(learned_times, start=1):
        category = rng.choice(categories)
        acknowledged = learned + timedelta(seconds=rng.expovariate(1 / 300))
        resolved = learned + timedelta(seconds=rng.expovariate(1 / 30_000))
        acknowledged_at = acknowledged if rng.random() < 0.96 and acknowledged < NOW else None
        resolved_at = resolved if rng.random() < 0.85 and resolved < NOW else None
        closed_at = resolved_at + timedelta(hours=2) if resolved_at else None
        if closed_at is not None and closed_at >= NOW:
            closed_at = None
        status = "closed" if closed_at else "resolved" if resolved_at else "open"
        rows.append(
            {
                "id": number,
                "category": category.value,
                "event_type": rng.choice(EVENT_TYPES[category]),
                "level": rng.choices(levels, level_weights)[0].value,
                "unit_id": rng.choices(units, weights)[0],
                "title": f"事件 {number}",
                "description": "值班员接报，现场情况正在核实。",
                "location": "青山镇",
                "latitude": None,
                "longitude": None,
                "casualties": {},
                "losses": "",
                "attachments": [],
                "dedup_key": None,
                "silence_id": None,
                "resolved_at": resolved_at,
                "closed_at": closed_at,
                "source": "console",
                "reporter": "desk",
                "status": status,
                "occurred_at": learned - timedelta(minutes=10),
                "learned_at": learned,
                "created_at": learned,
                "plan_id": PLAN_ID,
                "plan_version": DIGEST,
                "escalation_generation": 0,
                "acknowledged_at": acknowledged_at,
                "acknowledged_by": "desk" if acknowledged_at else None,
                "reporter_name": "张三",
                "reporter_unit": "青山镇政府",
                "reporter_phone": "13800000000",
                "received_via": "phone",
                "actions_taken": "",
                "others_told": "",
                "proposed_level": None,
                "proposed_reason": None,
                "drill_id": drill_id if rng.random() < 0.01 else None,
            }
        )
    return rows


def duty_rows(rng: random.Random, incidents: list[Row]) -> list[Row]:
    rows: list[Row] = []
    for incident in incidents:
        learned = incident["learned_at"]
        followups = rng.randint(0, 2)
        plan = [("initial", 1, timedelta(minutes=30))]
        plan += [("followup", n, timedelta(hours=4 * n)) for n in range(1, followups + 1)]
        plan.append(("final", 1, timedelta(days=2)))
        for kind, sequence, after in plan:
            due = learned + after
            state, late, submitted_at, explanation = DutyState.open, False, None, None
            roll = rng.random()
            if due > NOW:
                if roll < 0.3 and learned + after / 2 < NOW:
                    state, submitted_at = DutyState.submitted, learned + after / 2
            elif roll < 0.02:
                state = DutyState.cancelled
            elif roll < 0.06:
                state = DutyState.missing
                explanation = "现场无信号" if rng.random() < 0.3 else None
            elif roll < 0.09:
                pass  # still open, overdue
            else:
                state = DutyState.submitted
                late = rng.random() < 0.12
                delay = rng.expovariate(1 / 1800)
                submitted_at = due + timedelta(seconds=delay if late else -delay)
                if submitted_at > NOW:
                    submitted_at = NOW
                if late and rng.random() < 0.4:
                    explanation = "值班员接报后先行组织转移"
            rows.append(
                {
                    "id": len(rows) + 1,
                    "incident_id": incident["id"],
                    "generation": 0,
                    "kind": kind,
                    "sequence": sequence,
                    "hop": None,
                    "names": None,
                    "responsible_id": "p1",
                    "responsible_desc": "值班员 王五",
                    "recipients": [],
                    "via": [],
                    "due_at": due,
                    "remind_at": due - timedelta(minutes=10),
                    "next_at": due if state == DutyState.open else None,
                    "phase": DutyPhase.deadline if state == DutyState.open else DutyPhase.done,
                    "late_step": 0,
                    "state": state,
                    "late": late,
                    "late_recorded_at": due if late else None,
                    "submitted_at": submitted_at,
                    "submitted_by": "desk" if submitted_at else None,
                    "content": "报告内容" if submitted_at else "",
                    "late_explanation": explanation,
                    "created_at": learned,
                }
            )
    return rows


def instruction_rows(rng: random.Random, incidents: list[Row]) -> tuple[list[Row], list[Row]]:
    instructions: list[Row] = []
    assignments: list[Row] = []
    for incident in incidents:
        if rng.random() >= 0.1:
            continue
        at = incident["learned_at"] + timedelta(minutes=20)
        instructions.append(
            {
                "id": len(instructions) + 1,
                "incident_id": incident["id"],
                "leader": "leader",
                "text": "请立即核实并报告",
                "at": at,
                "via": "console",
            }
        )
        for _ in range(rng.randint(1, 3)):
            deadline = at + timedelta(hours=rng.choice((2, 6, 24, 48)))
            closed = deadline < NOW and rng.random() < 0.85
            late = closed and rng.random() < 0.15
            closed_at = deadline + (timedelta(hours=1) if late else -timedelta(hours=1))
            if closed_at > NOW:
                closed_at = NOW
            answered = not closed and rng.random() < 0.5
            state = "closed" if closed else "answered" if answered else "open"
            assignments.append(
                {
                    "id": len(assignments) + 1,
                    "instruction_id": len(instructions),
                    "incident_id": incident["id"],
                    "unit_id": incident["unit_id"],
                    "person_id": None,
                    "task": "核实现场情况",
                    "returns": "answer",
                    "deadline": deadline,
                    "state": state,
                    "phase": "done" if closed else "late",
                    "next_at": deadline,
                    "late": late,
                    "answer": "已核实" if closed or answered else "",
                    "answered_by": "desk" if closed or answered else None,
                    "answered_at": closed_at if closed or answered else None,
                    "decided_by": "leader" if closed else None,
                    "closed_at": closed_at if closed else None,
                    "sent_back": 0,
                    "comment": "",
                }
            )
    return instructions, assignments


def spot_check_rows(rng: random.Random, units: list[str]) -> list[Row]:
    rows: list[Row] = []
    day = YEAR_START
    while day < YEAR_END:
        for unit in units:
            planned = day + timedelta(seconds=rng.randrange(86_400))
            if planned >= NOW:
                continue
            roll = rng.random()
            answered = planned + timedelta(seconds=rng.expovariate(1 / 120))
            state = "answered" if roll < 0.9 else "lapsed" if roll < 0.98 else "asked"
            if state == "answered" and answered >= NOW:
                state = "asked"
            rows.append(
                {
                    "id": len(rows) + 1,
                    "unit_id": unit,
                    "shift_start": day,
                    "number": 1,
                    "planned_at": planned,
                    "next_at": planned + timedelta(minutes=15),
                    "state": state,
                    "person_id": f"{unit}-duty",
                    "asked_at": planned,
                    "answered_at": answered if state == "answered" else None,
                    "answered_via": "sms" if state == "answered" else None,
                    "leader_told": "leader" if state == "lapsed" else None,
                }
            )
        day += timedelta(days=1)
    return rows


def warning_rows(rng: random.Random, units: list[str], count: int = 2000) -> list[Row]:
    rows = []
    for number in range(1, count + 1):
        published = instant(rng, YEAR_START, NOW)
        rows.append(
            {
                "id": number,
                "root_id": None,
                "supersedes_id": None,
                "msg_type": "Alert",
                "stage": "published",
                "unit_id": rng.choice(units),
                "hazard": "rainstorm",
                "level": rng.choice(("I", "II", "III", "IV")),
                "status": "Actual" if rng.random() < 0.95 else "Exercise",
                "content": {"headline": f"暴雨预警 {number}"},
                "expires_at": published + timedelta(hours=12),
                "drafted_by": "drafter",
                "created_at": published - timedelta(hours=1),
                "updated_at": published,
                "submitted_at": published - timedelta(minutes=30),
                "signed_by": "leader",
                "published_at": published,
                "emergency": False,
                "reviewed_after_by": None,
                "identifier": f"bench-{number}",
                "sender": "bench@example.org",
                "cap_xml": None,
                "fanout_state": "done",
                "fanout_cursor": 0,
                "fanout_next_due": None,
                "targeted": rng.randrange(100, 50_000),
                "fanout_done_at": published + timedelta(minutes=5),
            }
        )
    return rows


async def fill(engine: AsyncEngine, incidents: int, units: int) -> dict[str, int]:
    """Every row of the year, inserted in chunks; the number of rows of each table."""
    rng = random.Random(SEED)
    names = unit_ids(units)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        session.add(
            PlanVersionRow(
                digest=DIGEST,
                plan_id=PLAN_ID,
                source_file="plans/bench.yaml",
                content="{}",
                first_used_at=YEAR_START,
            )
        )
        session.add(
            DrillRow(
                id=1,
                plan_id=PLAN_ID,
                level="IV",
                unit_id=names[0],
                category=Category.natural_disaster.value,
                event_type="flood",
                title="防汛演练",
                started_by="desk",
                started_at=YEAR_START,
            )
        )
    incident_list = incident_rows(rng, incidents, names, drill_id=1)
    instructions, assignments = instruction_rows(rng, incident_list)
    tables: list[tuple[Any, list[Row]]] = [
        (IncidentRow.__table__, incident_list),
        (ReportDutyRow.__table__, duty_rows(rng, incident_list)),
        (InstructionRow.__table__, instructions),
        (AssignmentRow.__table__, assignments),
        (SpotCheckRow.__table__, spot_check_rows(rng, names)),
        (WarningRow.__table__, warning_rows(rng, names)),
    ]
    for table, rows in tables:
        for start in range(0, len(rows), CHUNK):
            async with sessions.begin() as session:
                await insert_rows(session, table, rows[start : start + CHUNK])
    async with engine.connect() as connection:
        if is_postgres(engine):
            for table, _ in tables:  # the sequences past the ids given
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
            # What autovacuum does soon after a load; dutyd never runs ANALYZE on SQLite,
            # so its planner has no statistics there.
            await connection.execute(text("ANALYZE"))
        await connection.commit()
    return {table.name: len(rows) for table, rows in tables}


# ---------------------------------------------------------------- the queries


def busiest_unit(units: int) -> str:
    return unit_ids(units)[0]  # the heaviest weight


def figures_summary(figures: list[Any]) -> dict[str, Any]:
    rows = [asdict(f) for f in figures]
    totals: dict[str, Any] = {"units": len(rows)}
    for name in (
        "acknowledged",
        "resolved",
        "reports_on_time",
        "reports_late",
        "reports_missing",
        "assignments",
        "assignments_closed_on_time",
        "spot_checks",
        "spot_checks_answered",
        "spot_check_lapses",
        "warnings_published",
        "warning_recipients",
    ):
        totals[name] = sum(r[name] for r in rows)
    totals["incidents"] = sum(sum(r["incidents"].values()) for r in rows)
    if rows:
        first = rows[0]
        totals[f"{first['unit']} mean ack / resolve s"] = (
            first["mean_seconds_to_acknowledge"],
            first["mean_seconds_to_resolve"],
        )
    return totals


def late_summary(found: list[Any]) -> dict[str, Any]:
    states = [r.state for r in found]
    return {
        "rows": len(found),
        "late": states.count("late"),
        "missing": states.count("missing"),
        "explained": sum(1 for r in found if r.explanation),
    }


def digest_of(found: list[Any]) -> str:
    body = json.dumps([asdict(r) for r in found], default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


Query = Callable[[Any], Awaitable[list[Any]]]


def queries(units: int) -> list[tuple[str, Query, Callable[[list[Any]], dict[str, Any]]]]:
    year = {"start": YEAR_START, "end": YEAR_END, "now": NOW}
    month = {"start": MONTH[0], "end": MONTH[1], "now": NOW}
    one = busiest_unit(units)
    return [
        ("office_figures, year, all units", _figures(year, None), figures_summary),
        (f"office_figures, year, unit {one}", _figures(year, one), figures_summary),
        ("office_figures, June, all units", _figures(month, None), figures_summary),
        ("late_reports, June, all units", _late(month), late_summary),
    ]


def _figures(window: dict[str, datetime], unit: str | None) -> Query:
    return lambda session: office_figures(session, **window, unit=unit)


def _late(window: dict[str, datetime]) -> Query:
    return lambda session: late_reports(session, **window, unit=None)


async def run_query(engine: AsyncEngine, query: Query) -> tuple[float, list[Any]]:
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with sessions() as session:
        found = await query(session)
    return time.perf_counter() - started, found


async def measure(url: str, units: int, runs: int, profile: bool) -> list[dict[str, Any]]:
    results = []
    for name, query, summary in queries(units):
        engine = create_engine(url, reads=True)
        try:
            cold, found = await run_query(engine, query)
            warm = []
            for _ in range(runs):
                seconds, again = await run_query(engine, query)
                warm.append(seconds)
                if digest_of(again) != digest_of(found):
                    raise SystemExit(f"{name}: a different answer on a second run")
            if profile and name.startswith("office_figures, year, all"):
                profiler = cProfile.Profile()
                profiler.enable()
                await run_query(engine, query)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        finally:
            await engine.dispose()
        results.append(
            {
                "query": name,
                "cold_s": cold,
                "warm_s": warm,
                "digest": digest_of(found),
                "summary": summary(found),
            }
        )
        print(
            f"{name}: cold {cold:.3f} s, warm {' '.join(f'{w:.3f}' for w in warm)} s, "
            f"digest {digest_of(found)}\n    {summary(found)}",
            flush=True,
        )
    return results


# ---------------------------------------------------------------- running it


@asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[tuple[str, bool]]:
    """The database URL, and whether it still needs filling."""
    if args.database_url:
        yield args.database_url, False
        return
    if args.backend == "sqlite":
        if args.keep:
            KEPT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
            KEPT_SQLITE.unlink(missing_ok=True)
            yield f"sqlite+aiosqlite:///{KEPT_SQLITE}", True
            return
        with tempfile.TemporaryDirectory(prefix="dutyd-stats-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'stats.db'}", True
        return
    admin = postgres_admin_url(args.postgres_url)
    if admin is None:
        raise SystemExit("no PostgreSQL server: give --postgres-url (see scripts/postgres)")
    if args.keep:
        url = make_url(admin).set(database=KEPT_POSTGRES)
        await create_database(admin, KEPT_POSTGRES)
        yield url.render_as_string(hide_password=False), True
        return
    async with fresh_postgres_database(admin, "dutyd_stats") as url:
        yield url, True


async def create_database(admin: str, name: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def main_async(args: argparse.Namespace) -> None:
    print(f"{machine()}; {source_state()}; load average {os.getloadavg()}", flush=True)
    async with database(args) as (url, empty):
        if empty:
            engine = create_engine(url)
            try:
                started = time.perf_counter()
                await migrate.upgrade(engine)
                counts = await fill(engine, args.incidents, args.units)
                print(f"setup {time.perf_counter() - started:.1f} s: {counts}", flush=True)
            finally:
                await engine.dispose()
        if args.keep:
            print(f"kept: --database-url {url}", flush=True)
        results = await measure(url, args.units, args.runs, args.profile)
    goal = GOALS_S[args.backend]
    year = results[0]
    worst = max([year["cold_s"], *year["warm_s"]])
    verdict = "met" if worst < goal else "missed"
    print(
        f"goal: {year['query']} under {goal:.0f} s on {args.backend}: {verdict} "
        f"(slowest run {worst:.3f} s); load average {os.getloadavg()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each query")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create a database on")
    parser.add_argument("--database-url", help="a database filled before (--keep): no setup")
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the database ({KEPT_SQLITE}, {KEPT_POSTGRES})"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the goal's query")
    args = parser.parse_args()
    isolate_environment()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
