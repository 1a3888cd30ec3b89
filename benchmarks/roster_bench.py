"""Benchmark the duty roster: who is on duty now, and the full rule check over a year.

Run with `python -m benchmarks.roster_bench`. The roster is synthetic and deterministic
(a fixed random seed): a city and 499 subordinate units, each with its own duty officers,
leaders, rotations, duty-table lines and overrides. Most units keep China time; one in ten
is in Europe/Berlin so that daylight-saving changes are part of the work.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from service.roster.calendar import DutyCalendar
from service.roster.check import Violation, check_roster
from service.roster.models import CalendarSettings
from service.roster.report import on_duty
from service.roster.roster import Roster, RosterDocument
from service.roster.rules import DutyRules, RulesDocument

UNITS = 500
OFFICERS_PER_UNIT = 4
LEADERS_PER_UNIT = 3
TABLE_LINES_PER_UNIT = 6
APPROVED_OVERRIDES_PER_UNIT = 4
PENDING_OVERRIDES_PER_UNIT = 1
YEAR = 2026
SEED = 20260101

WHO_IS_ON_GOAL_MS = 10.0
CHECK_GOAL_S = 5.0

SHANGHAI = ZoneInfo("Asia/Shanghai")

T = TypeVar("T")


def _zone_for(index: int) -> str:
    return "Europe/Berlin" if index % 10 == 9 else "Asia/Shanghai"


def _person(pid: str, unit: str, rank: int, title: str) -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid.replace("_", " ").title(),
        "unit": unit,
        "title": title,
        "rank": rank,
        "contacts": [
            {"channel": "sms", "address": f"+86138{zlib.crc32(pid.encode()) % 10**8:08d}"},
            {"channel": "email", "address": f"{pid}@example.gov.cn"},
        ],
    }


def build_roster_document(units: int = UNITS, seed: int = SEED) -> RosterDocument:
    """A city (`city`) with `units - 1` subordinate units, ready for `Roster.from_document`."""
    rng = random.Random(seed)
    year_start = date(YEAR, 1, 1)
    data: dict[str, list[dict[str, Any]]] = {
        "units": [],
        "people": [],
        "rotations": [],
        "duty_table": [],
        "overrides": [],
    }
    for index in range(units):
        unit_id = "city" if index == 0 else f"unit_{index:03d}"
        zone = _zone_for(index)
        data["units"].append(
            {
                "id": unit_id,
                "name": "City" if index == 0 else f"District {index}",
                "timezone": zone,
                "parent": None if index == 0 else "city",
            }
        )
        officers = [f"{unit_id}_officer_{n}" for n in range(OFFICERS_PER_UNIT)]
        leaders = [f"{unit_id}_leader_{n}" for n in range(LEADERS_PER_UNIT)]
        data["people"] += [_person(p, unit_id, 3, "Duty officer") for p in officers]
        data["people"] += [
            _person(p, unit_id, 6 if n == 0 else 5, "Deputy head") for n, p in enumerate(leaders)
        ]
        for role, people in (("duty_officer", officers), ("leader_on_shift", leaders)):
            data["rotations"].append(
                {
                    "unit": unit_id,
                    "role": role,
                    "people": people,
                    "shift_start": "08:30",
                    "shift_length": "24h",
                    "starts_on": (year_start - timedelta(days=1 + rng.randrange(60))).isoformat(),
                    "every_days": 1,
                }
            )
        for _ in range(TABLE_LINES_PER_UNIT):
            role, people = rng.choice((("duty_officer", officers), ("leader_on_shift", leaders)))
            data["duty_table"].append(
                {
                    "date": (year_start + timedelta(days=rng.randrange(365))).isoformat(),
                    "unit": unit_id,
                    "role": role,
                    "person": rng.choice(people),
                    "shift_start": "08:30",
                    "shift_length": "24h",
                }
            )
        for n in range(APPROVED_OVERRIDES_PER_UNIT + PENDING_OVERRIDES_PER_UNIT):
            role, people = rng.choice((("duty_officer", officers), ("leader_on_shift", leaders)))
            local = datetime.combine(
                year_start + timedelta(days=rng.randrange(365)),
                datetime.min.time(),
                tzinfo=ZoneInfo(zone),
            ) + timedelta(hours=rng.randrange(24))
            start = local.astimezone(UTC)
            taker, replaced = rng.sample(people, 2)
            override: dict[str, Any] = {
                "id": f"{unit_id}-ov{n}",
                "unit": unit_id,
                "role": role,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=rng.choice((4, 12, 24, 48)))).isoformat(),
                "person": taker,
                "replaces": replaced if n % 2 == 0 else None,
                "reason": "swap",
                "requested_by": replaced,
            }
            if n < APPROVED_OVERRIDES_PER_UNIT:
                override["approved_by"] = leaders[0]
                override["approved_at"] = (start - timedelta(days=2)).isoformat()
            data["overrides"].append(override)
    return RosterDocument.model_validate(data)


def build_rules() -> DutyRules:
    return DutyRules(
        RulesDocument.model_validate(
            {
                "defaults": {
                    "duty_officer": {
                        "min_count": 1,
                        "min_rank": 2,
                        "max_consecutive_shifts": 2,
                        "min_rest": "24h",
                    },
                    "leader_on_shift": {"min_count": 1, "min_rank": 5},
                },
                "enhanced": {"leader_on_shift": {"min_rank": 6}},
                "units": {"city": {"duty_officer": {"min_rank": 3}}},
            }
        )
    )


class _Phase:
    """Wall-clock and CPU time since creation: their ratio shows if the machine was shared."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def cpu_share(self) -> float:
        return (time.process_time() - self.cpu) / (time.perf_counter() - self.wall)


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _verdict(value: float, goal: float) -> str:
    return "met" if value < goal else "MISSED"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="who-is-on repetitions")
    parser.add_argument("--check-runs", type=int, default=3, help="full checks; best is kept")
    args = parser.parse_args(argv)

    build_seconds, document = _timed(build_roster_document)
    roster = Roster.from_document(document)
    rules = build_rules()
    calendar = DutyCalendar(CalendarSettings(), [])
    berlin = sum(1 for u in roster.units.values() if u.timezone == "Europe/Berlin")

    # Who is on, for every unit, at `repeat` different instants spread over the year (so
    # no answer is reused from an earlier repetition) at varying times of day.
    load_before = os.getloadavg()[0]
    step = timedelta(days=365) / (args.repeat + 1)
    first, *instants = [
        datetime(YEAR, 1, 1, 0, 7, tzinfo=SHANGHAI) + n * step for n in range(args.repeat + 1)
    ]
    first_ms, holders = _timed(lambda: on_duty(roster, first))
    first_ms *= 1000
    phase = _Phase()
    samples = []
    for instant in instants:
        seconds, _ = _timed(lambda: on_duty(roster, instant))  # noqa: B023
        samples.append(seconds * 1000)
    median_ms = statistics.median(samples)
    p99_ms = _percentile(samples, 0.99)
    who_share = phase.cpu_share()

    # The full rule check of every unit over the calendar year, local (China) time.
    start = datetime(YEAR, 1, 1, tzinfo=SHANGHAI)
    end = datetime(YEAR + 1, 1, 1, tzinfo=SHANGHAI)
    phase = _Phase()
    runs = []
    violations: list[Violation] = []
    for _ in range(args.check_runs):
        seconds, found = _timed(lambda: check_roster(roster, rules, calendar, start, end))
        runs.append(seconds)
        violations = found
    best = min(runs)
    check_share = phase.cpu_share()

    print("Roster benchmark")
    print(f"  machine : {_cpu_model()}, {os.cpu_count()} cores")
    print(f"  python  : {platform.python_implementation()} {platform.python_version()}")
    print(
        f"  roster  : {len(roster.units)} units ({berlin} in Europe/Berlin), "
        f"{len(document.people)} people, {len(document.rotations)} rotations, "
        f"{len(document.duty_table)} duty-table lines, "
        f"{sum(1 for o in document.overrides if o.approved_at)} approved overrides "
        f"(built and validated in {build_seconds:.2f} s)"
    )
    print(
        f"  load    : {load_before:.2f} (1-minute load average before measuring); this process "
        f"had a core {who_share:.0%} of the who-is-on time, {check_share:.0%} of the check time"
    )
    if min(who_share, check_share) < 0.9:
        print("            WARNING: other work shared the machine; the figures are inflated")
    print(
        f"  results : {len(holders)} role holders at {first.isoformat()} "
        f"(first question after loading: {first_ms:.1f} ms); {len(violations)} violations in {YEAR}"
    )
    print()
    rows = [
        ("measurement", "figure", "goal", "result"),
        (
            f"who is on, all {len(roster.units)} units (median, {args.repeat} instants)",
            f"{median_ms:.2f} ms",
            f"< {WHO_IS_ON_GOAL_MS:g} ms",
            _verdict(median_ms, WHO_IS_ON_GOAL_MS),
        ),
        (
            f"who is on, all {len(roster.units)} units (p99, {args.repeat} instants)",
            f"{p99_ms:.2f} ms",
            f"< {WHO_IS_ON_GOAL_MS:g} ms",
            _verdict(p99_ms, WHO_IS_ON_GOAL_MS),
        ),
        (
            f"rule check, {len(roster.units)} units x 1 year (best of {args.check_runs})",
            f"{best:.2f} s",
            f"< {CHECK_GOAL_S:g} s",
            _verdict(best, CHECK_GOAL_S),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(("  " + "  ".join(cells)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * width for width in widths))
    print()
    print(f"  all rule-check runs: {', '.join(f'{s:.2f} s' for s in runs)}")


if __name__ == "__main__":
    main()
