"""Nothing lost, nothing doubled: the real daemon, killed with SIGKILL, against faulty providers.

    python -m benchmarks.crash_harness --backend sqlite|postgres|both --rounds N --incidents M

Each round starts `dutyd serve` (settings by DUTYD_* variables), posts incidents through
the HTTP API, and kills the daemon with SIGKILL: at a random moment, or at the moment the
fake Twilio receives a send or call (before accepting it, or after accepting and recording
it but before answering). Twilio is `tests.fakes.twilio` in its own process, failing about
30 % of requests (5xx, 429 with Retry-After, hangs past dutyd's 15 s timeout) and writing
every accepted SMS and call to a record file; mail goes to a port that refuses connections
for the first stretch of the run, then to an aiosmtpd sink that records what it receives.
After the last round a daemon that is not killed lets everything settle (lease takeovers
included), and the database and the two records are the witnesses (see `check`).

On PostgreSQL a second scenario runs two daemons on one database (different worker names)
and kills one mid-storm: the survivor must take over the dead one's claimed messages when
their lease runs out; the takeover time is measured.

`--safe-kills` (the CI form) kills only at moments when no message is `sending`, so settling
needs no lease takeover (60 s at least); `docs/reliability.md` has the method and results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.fakes.smtp import SmtpServer, free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

REPO = Path(__file__).resolve().parent.parent
DUTYD = str(Path(sys.executable).with_name("dutyd"))
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:55433/postgres"
FINAL = ("sent", "delivered", "failed", "bundled", "withdrawn")
IN_PLAY = ("pending", "sending")
LEASE_SECONDS = 60  # DUTYD_SEND_LEASE_SECONDS: its minimum
# Incidents the sample plans cover, across units (so several duty offices are paged).
KINDS = [
    {"category": "natural_disaster", "event_type": "flood", "level": "II", "unit": "qingshan"},
    {"category": "natural_disaster", "event_type": "flood", "level": "III", "unit": "linjiang"},
    {"category": "accident_disaster", "event_type": "road_traffic", "level": "III", "unit": "hexi"},
    {"category": "accident_disaster", "event_type": "road_traffic", "level": "IV", "unit": "hexi"},
]
ATTEMPT = re.compile(r"^attempt \d+ by (.+)$")


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# ---------------------------------------------------------------- set-up


def scaled_plans(work: Path, seconds_per_minute: float) -> Path:
    """The sample plans with every escalation wait shortened (a minute becomes
    `seconds_per_minute` seconds, at least 1 s), and voice added to the Qingshan flood
    plan's second step, so calls are exercised too."""
    plans = work / "plans"
    shutil.copytree(REPO / "plans", plans)

    def shorter(match: re.Match[str]) -> str:
        minutes = int(match.group(1))
        return f"wait: {max(1, round(minutes * seconds_per_minute))}s"

    for path in plans.glob("*.yaml"):
        body = re.sub(r"wait: (\d+)m", shorter, path.read_text(encoding="utf-8"))
        if path.name == "qingshan_flood.yaml":
            body = body.replace(
                "- notify: [{role: office_director}]\n        channels: [sms, email]",
                "- notify: [{role: office_director}]\n        channels: [sms, email, voice]",
            )
        path.write_text(body, encoding="utf-8")
    return plans


def roster_people() -> dict[str, dict[str, Any]]:
    roster = yaml.safe_load((REPO / "config" / "roster.yaml").read_text(encoding="utf-8"))
    return {p["id"]: p for p in roster["people"]}


@dataclass
class Setup:
    backend: str
    work: Path
    database_url: str
    plans: Path
    twilio_port: int
    smtp_port: int
    record: Path
    mail_record: Path
    kill_file: Path
    rate_limit: int
    safe_wait: float = 30.0
    hang_share: float = 0.1
    admin_url: str | None = None
    database_name: str | None = None


def daemon_env(setup: Setup, worker: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYD_")}
    env.update(
        DUTYD_CONFIG=str(setup.work / "no-such-settings.yaml"),
        DUTYD_DATA_DIR=str(setup.work / "data"),
        DUTYD_DATABASE_URL=setup.database_url,
        DUTYD_ROSTER_FILE=str(REPO / "config" / "roster.yaml"),
        DUTYD_PLANS_DIR=str(setup.plans),
        DUTYD_LOG_FORMAT="json",
        DUTYD_ENGINE_POLL_SECONDS="0.2",
        DUTYD_SHIFT_REMINDER_HOURS="0",
        DUTYD_SEND_LEASE_SECONDS=str(LEASE_SECONDS),
        DUTYD_WORKER_NAME=worker,
        DUTYD_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DUTYD_ACK_LINK_SECRET="crash-harness-ack-link-secret",
        DUTYD_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        DUTYD_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        DUTYD_TWILIO_FROM_NUMBER=FROM_NUMBER,
        DUTYD_TWILIO_API_BASE_URL=f"http://127.0.0.1:{setup.twilio_port}",
        DUTYD_SMTP_HOST="127.0.0.1",
        DUTYD_SMTP_PORT=str(setup.smtp_port),
        DUTYD_SMTP_SECURITY="none",
        DUTYD_SMTP_FROM="dutyd@linjiang.example.gov.cn",
        DUTYD_SMTP_TIMEOUT_SECONDS="5",
        DUTYD_DELIVERY_BACKOFF_SECONDS="1",
        DUTYD_DELIVERY_BACKOFF_MAX_SECONDS="8",
        DUTYD_RATE_LIMIT_PER_MINUTE=str(setup.rate_limit),
    )
    return env


@dataclass
class Daemon:
    worker: str
    port: int
    process: subprocess.Popen[bytes]
    started: float
    killed_at: float | None = None


def start_daemon(setup: Setup, worker: str, port: int | None = None) -> Daemon:
    port = port or free_port()
    logs = setup.work / "logs"
    logs.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [DUTYD, "serve", "--port", str(port)],
        env=daemon_env(setup, worker, port),
        stdout=(logs / f"{worker}.out").open("wb"),
        stderr=(logs / f"{worker}.err").open("wb"),
    )
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{worker} exited: {(logs / f'{worker}.err').read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Daemon(worker, port, process, started)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{worker} not ready in 60 s")


def kill(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=10)
    daemon.killed_at = daemon.killed_at or time.monotonic()


def stop(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGINT)
        try:
            daemon.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill(daemon)


def start_twilio(setup: Setup, fail_rate: float, seed: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.twilio",
            "--port",
            str(setup.twilio_port),
            "--fail-rate",
            str(fail_rate),
            "--record",
            str(setup.record),
            "--kill-file",
            str(setup.kill_file),
            "--seed",
            str(seed),
            "--hang-share",
            str(setup.hang_share),
        ],
        cwd=REPO,
        stdout=(setup.work / "twilio.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{setup.twilio_port}/", timeout=1)
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("fake twilio did not start")


def create_token(setup: Setup) -> str:
    env = daemon_env(setup, "token", 8640)
    done = subprocess.run(
        [DUTYD, "token", "create", "--role", "duty_officer", "crash-harness"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


# ---------------------------------------------------------------- the run


@dataclass
class Posted:
    title: str
    status: int | None  # None: no answer (the daemon died)
    incident_id: int | None = None


@dataclass
class Run:
    backend: str
    posted: list[Posted] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    killed_workers: set[str] = field(default_factory=set)
    unsafe_kills: int = 0  # safe mode: a kill that found messages sending anyway
    seconds: float = 0.0
    settle_seconds: float = 0.0
    takeover: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def post_incidents(
    run: Run, daemon: Daemon, token: str, titles: list[str], rng: random.Random, halt: asyncio.Event
) -> list[str]:
    """Post incidents (four at a time) until done or the daemon dies; return the unposted."""
    queue = list(titles)
    url = f"http://127.0.0.1:{daemon.port}/api/v1/incidents"
    headers = {"Authorization": f"Bearer {token}"}

    async def client(http: httpx.AsyncClient) -> None:
        while queue and not halt.is_set():
            title = queue.pop(0)
            body = dict(rng.choice(KINDS), title=title)
            try:
                response = await http.post(url, json=body, headers=headers, timeout=30)
            except httpx.HTTPError:
                run.posted.append(Posted(title, None))
                halt.set()
                return
            answer = response.json() if response.status_code < 300 else {}
            run.posted.append(Posted(title, response.status_code, answer.get("id")))
            if response.status_code >= 300:
                run.problems.append(f"POST {title}: {response.status_code} {response.text[:200]}")
            await asyncio.sleep(rng.uniform(0, 0.02))

    async with httpx.AsyncClient() as http:
        await asyncio.gather(*(client(http) for _ in range(4)))
    return queue


async def count_sending(engine: AsyncEngine, worker: str | None = None) -> int:
    query = "SELECT count(*) FROM messages WHERE state = 'sending'"
    if worker:
        query += " AND claimed_by = :worker"
    async with engine.connect() as connection:
        return int((await connection.execute(text(query), {"worker": worker})).scalar_one())


async def kill_when(
    run: Run, daemon: Daemon, setup: Setup, engine: AsyncEngine, mode: str, delay: float
) -> None:
    """Kill the daemon after `delay` seconds: at once (random), at the next provider request
    (provider-before / provider-after), or at the first moment nothing is sending (safe)."""
    await asyncio.sleep(delay)
    if mode.startswith("provider"):
        setup.kill_file.write_text(f"{daemon.process.pid} {mode.split('-')[1]}")
        deadline = time.monotonic() + 20
        while daemon.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        with contextlib.suppress(FileNotFoundError):
            setup.kill_file.unlink()  # not taken: no request came; kill at random instead
            mode = "random (no provider request came)"
    elif mode == "safe":
        deadline = time.monotonic() + setup.safe_wait
        while await count_sending(engine) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if await count_sending(engine):
            run.unsafe_kills += 1
    kill(daemon)
    run.kills[mode] += 1
    run.killed_workers.add(daemon.worker)


async def rounds(
    run: Run, setup: Setup, engine: AsyncEngine, token: str, args: argparse.Namespace
) -> Daemon:
    rng = random.Random(args.seed)
    titles = [f"CH-{run.backend}-{i:05d} 水位超警戒" for i in range(args.incidents)]
    per_round = max(1, len(titles) // (args.rounds + 1))
    modes = ["random", "provider-after", "random", "provider-before"]
    pending_titles = titles
    for number in range(args.rounds):
        daemon = start_daemon(setup, f"{run.backend}-r{number:02d}")
        batch, pending_titles = pending_titles[:per_round], pending_titles[per_round:]
        mode = "safe" if args.safe_kills else modes[number % len(modes)]
        # Post for about a second and a half; kill at a random moment inside it.
        stop_posting = asyncio.Event()
        killer = asyncio.create_task(
            kill_when(run, daemon, setup, engine, mode, rng.uniform(0.2, 1.5))
        )
        left = await post_incidents(run, daemon, token, batch, rng, stop_posting)
        await killer
        pending_titles = left + pending_titles
        log(
            f"{run.backend} round {number}: {mode} kill, {len(batch) - len(left)} posted,"
            f" {await count_sending(engine)} left sending"
        )
    daemon = start_daemon(setup, f"{run.backend}-final")
    await post_incidents(run, daemon, token, pending_titles, rng, asyncio.Event())
    return daemon


async def settle(engine: AsyncEngine, limit: float) -> float:
    """Wait until no message is pending or sending and no escalation step is pending."""
    started = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - started < limit:
        async with engine.connect() as connection:
            busy = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM messages WHERE state IN"
                        " ('pending', 'sending')) + (SELECT count(*) FROM escalation_steps"
                        " WHERE state = 'pending')"
                    )
                )
            ).scalar_one()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


# ---------------------------------------------------------------- the witnesses


def read_record(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


async def rows(engine: AsyncEngine, query: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(query))).all())


async def check(run: Run, setup: Setup, engine: AsyncEngine) -> dict[str, Any]:
    """Compare what the API answered, the database and the providers' records."""
    problems = run.problems
    twilio = read_record(setup.record)
    mail = read_record(setup.mail_record)
    accepted = [e for e in twilio if e["event"] == "accepted"]
    provider_kills = [e for e in twilio if e["event"] == "kill"]

    # 1. Every incident answered 2xx is stored.
    stored = {
        title: incident_id
        for incident_id, title in await rows(engine, "SELECT id, title FROM incidents")
    }
    answered = [p for p in run.posted if p.status is not None and 200 <= p.status < 300]
    lost_incidents = [p for p in answered if stored.get(p.title) != p.incident_id]
    unanswered_stored = sum(1 for p in run.posted if p.status is None and p.title in stored)
    for p in lost_incidents:
        problems.append(f"LOST incident {p.title} (answered {p.status}, id {p.incident_id})")

    # 2. Every message reached a final state; every step that fell due fired.
    messages = {
        r.id: r
        for r in await rows(
            engine,
            "SELECT id, incident_id, escalation_step_id, person_id, channel, address, body,"
            " state, transport, provider_id, digest_of, failover_of, attempts FROM messages",
        )
    }
    stuck = [m for m in messages.values() if m.state in IN_PLAY]
    for m in stuck:
        problems.append(f"STUCK message #{m.id} {m.channel} {m.state}")
    steps = await rows(
        engine,
        "SELECT id, incident_id, generation, step_index, round, state, due_at, kind"
        " FROM escalation_steps",
    )
    stuck_steps = [s for s in steps if s.state == "pending"]
    for s in stuck_steps:
        problems.append(f"STUCK escalation step #{s.id} due {s.due_at}")
    stuck_count = len(stuck) + len(stuck_steps)

    # 3. What the database says went out, the provider has (else it was lost on the way).
    by_sid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_message: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in accepted:
        by_sid[entry["sid"]].append(entry)
        by_message[str(entry["message_id"])].append(entry)
    mails: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in mail:
        found = re.search(r"dutyd\.message\.(\d+)@", entry["message_id"])
        if found:
            mails[found.group(1)].append(entry)
    lost_messages = []
    for m in messages.values():
        if m.state not in ("sent", "delivered"):
            continue
        if m.transport in ("twilio", "twilio-voice"):
            copies = by_sid.get(m.provider_id or "", [])
            if not copies or str(m.id) not in {str(c["message_id"]) for c in copies}:
                lost_messages.append(m)
                other = copies[0]["message_id"] if copies else None
                problems.append(
                    f"LOST message #{m.id} {m.channel}: recorded as {m.provider_id},"
                    f" which the provider accepted for message {other}"
                )
        elif m.transport == "smtp" and str(m.id) not in mails:
            lost_messages.append(m)
            problems.append(f"LOST message #{m.id} email: sent via smtp, never received")
    bundled_into_lost = [
        m for m in messages.values() if m.state == "bundled" and m.digest_of not in messages
    ]
    lost_messages += bundled_into_lost
    incidents_without_messages = [
        i for i in stored.values() if not any(m.incident_id == i for m in messages.values())
    ]
    fired_without_messages = [
        s
        for s in steps
        if s.state == "fired"
        and s.kind == "step"
        and not any(m.escalation_step_id == s.id for m in messages.values())
    ]
    for i in incidents_without_messages:
        problems.append(f"LOST incident #{i}: no message at all")

    # 4. Nothing handed to the provider twice, beyond what a crash at the provider explains.
    events = defaultdict(list)
    for message_id, state, detail in await rows(
        engine, "SELECT message_id, state, detail FROM message_events ORDER BY message_id, id"
    ):
        events[message_id].append((state, detail))

    def orphaned_claim(message_id: int) -> bool:
        """A claim by a process that then died before recording the result."""
        claims = [ATTEMPT.match(d) for s, d in events.get(message_id, []) if s == "sending"]
        seq = events.get(message_id, [])
        for (state, detail), (next_state, next_detail) in itertools.pairwise(seq):
            first = ATTEMPT.match(detail) if state == "sending" else None
            then = ATTEMPT.match(next_detail) if next_state == "sending" else None
            if first and then and first.group(1) in run.killed_workers:
                return True
        return any(c and c.group(1) in run.killed_workers for c in claims[-1:]) and (
            seq[-1][0] == "sending"
        )

    doubled: Counter[str] = Counter()
    explained: Counter[str] = Counter()
    copies_by_message = [(mid, es, es[0]["kind"]) for mid, es in by_message.items()]
    copies_by_message += [(mid, es, "email") for mid, es in mails.items()]
    for message_id, copies, kind in copies_by_message:
        if len(copies) < 2:
            continue
        extra = len(copies) - 1
        if message_id.isdigit() and orphaned_claim(int(message_id)):
            explained[kind] += extra
        else:
            doubled[kind] += extra
            problems.append(f"DOUBLED message #{message_id} ({kind}) handed over {len(copies)}x")
    same_text = Counter((e["to"], e["body"]) for e in accepted if e["kind"] == "sms")
    same_text_other_messages = sum(
        n - 1
        for (to, body), n in same_text.items()
        if n > 1
        and len({e["message_id"] for e in accepted if (e["to"], e["body"]) == (to, body)}) == n
    )
    reconciled = sum(1 for seq in events.values() for s, d in seq if "found already accepted" in d)

    # 5. Every escalation step fired once.
    fired = Counter(
        (s.incident_id, s.generation, s.step_index, s.round) for s in steps if s.state == "fired"
    )
    doubled_steps = sum(n - 1 for n in fired.values() if n > 1)

    # 6. Nobody declared unreachable who was in fact reached.
    people = roster_people()
    names = {p["name"]: pid for pid, p in people.items()}
    reached: set[tuple[int | None, str]] = set()
    for m in messages.values():
        if m.state in ("sent", "delivered"):
            reached.add((m.incident_id, m.person_id))
        if m.state == "bundled" and m.digest_of in messages:
            digest = messages[m.digest_of]
            if digest.state in ("sent", "delivered"):
                reached.add((m.incident_id, m.person_id))
    declared = await rows(
        engine,
        "SELECT incident_id, summary FROM timeline_entries WHERE kind = 'person_unreachable'",
    )
    false_unreachable = []
    for incident_id, summary in declared:
        person = names.get(summary.split(" cannot be reached")[0])
        if (incident_id, person) in reached:
            false_unreachable.append((incident_id, person))
            problems.append(f"FALSE UNREACHABLE: {person} on incident #{incident_id} was reached")
    unreachable_alerts = sum(
        1 for m in messages.values() if "联系不上" in m.body or "cannot be reached" in m.body
    )

    states = Counter(m.state for m in messages.values())
    figures = {
        "incidents_posted": len(run.posted),
        "incidents_answered_2xx": len(answered),
        "incidents_unanswered": sum(1 for p in run.posted if p.status is None),
        "incidents_unanswered_but_stored": unanswered_stored,
        "incidents_stored": len(stored),
        "messages": len(messages),
        "message_states": dict(sorted(states.items())),
        "escalation_steps_fired": sum(fired.values()),
        "twilio_accepted": Counter(e["kind"] for e in accepted),
        "mails_received": len(mail),
        "kills": sum(run.kills.values()),
        "kills_by_mode": dict(run.kills),
        "kills_at_provider_taken": len(provider_kills),
        "unsafe_kills": run.unsafe_kills,
        "reconciled_after_crash": reconciled,
        "duplicates_unexplained": dict(doubled),
        "duplicates_after_crash_at_provider": dict(explained),
        "same_text_same_number_other_message": same_text_other_messages,
        "duplicate_steps": doubled_steps,
        "losses": len(lost_incidents) + len(lost_messages) + len(incidents_without_messages),
        "stuck": stuck_count,
        "declared_unreachable": len(declared),
        "unreachable_alert_messages": unreachable_alerts,
        "unreachable_but_reached": len(false_unreachable),
        "fired_steps_without_messages": len(fired_without_messages),
    }
    figures["twilio_accepted"] = dict(figures["twilio_accepted"])
    return figures


# ---------------------------------------------------------------- backends


async def create_database(setup: Setup, admin: str) -> None:
    import asyncpg

    name = f"dutyd_crash_{uuid.uuid4().hex[:10]}"
    dsn = make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    setup.admin_url, setup.database_name = admin, name
    setup.database_url = make_url(admin).set(database=name).render_as_string(hide_password=False)


async def drop_database(setup: Setup) -> None:
    import asyncpg

    if not setup.admin_url:
        return
    dsn = make_url(setup.admin_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{setup.database_name}" WITH (FORCE)')
    finally:
        await connection.close()


def make_setup(backend: str, work: Path, args: argparse.Namespace) -> Setup:
    work.mkdir(parents=True, exist_ok=True)
    return Setup(
        backend=backend,
        work=work,
        database_url=f"sqlite+aiosqlite:///{work / 'dutyd.db'}",
        plans=scaled_plans(work, args.wait_scale),
        twilio_port=free_port(),
        smtp_port=free_port(),
        record=work / "twilio-record.jsonl",
        mail_record=work / "mail-record.jsonl",
        kill_file=work / "kill-at-provider",
        rate_limit=args.rate_limit,
        safe_wait=args.safe_wait,
        hang_share=args.hang_share,
    )


class Providers:
    """The fake Twilio process, and the SMTP port: refusing, then an aiosmtpd sink."""

    def __init__(self, setup: Setup, args: argparse.Namespace) -> None:
        self.setup, self.args = setup, args
        self.twilio = start_twilio(setup, args.fail_rate, args.seed)
        self.smtp: SmtpServer | None = None
        self.smtp_up = asyncio.get_running_loop().call_later(args.smtp_down, self.start_smtp)

    def start_smtp(self) -> None:
        if self.smtp is None:
            self.smtp = SmtpServer(port=self.setup.smtp_port, record=self.setup.mail_record)
            self.smtp.start()
            log(f"{self.setup.backend}: SMTP sink up")

    def close(self) -> None:
        self.smtp_up.cancel()
        if self.smtp is not None:
            self.smtp.stop()
        self.twilio.send_signal(signal.SIGTERM)
        try:
            self.twilio.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.twilio.kill()


async def run_backend(backend: str, base: Path, args: argparse.Namespace) -> Run:
    setup = make_setup(backend, base / backend, args)
    run = Run(backend)
    if backend == "postgres":
        await create_database(setup, args.postgres_url)
    engine = create_async_engine(setup.database_url)
    providers = Providers(setup, args)
    started = time.monotonic()
    daemon = None
    try:
        token = create_token(setup)
        daemon = await rounds(run, setup, engine, token, args)
        settle_started = time.monotonic()
        providers.start_smtp()  # the run is over: mail may go now, if it is still down
        settle_for = await settle(engine, args.settle_timeout)
        run.settle_seconds = time.monotonic() - settle_started
        log(f"{backend}: settled in {settle_for:.1f} s")
        stop(daemon)
        run.seconds = time.monotonic() - started
        run.figures = await check(run, setup, engine)
    finally:
        if daemon is not None:
            stop(daemon)
        providers.close()
        await engine.dispose()
        if backend == "postgres" and not args.keep:
            await drop_database(setup)
    return run


async def run_takeover(base: Path, args: argparse.Namespace) -> Run:
    """Two daemons on one PostgreSQL database; one is killed mid-storm holding claims."""
    setup = make_setup("postgres-pair", base / "postgres-pair", args)
    run = Run("postgres-pair")
    await create_database(setup, args.postgres_url)
    engine = create_async_engine(setup.database_url)
    providers = Providers(setup, args)
    providers.start_smtp()
    rng = random.Random(args.seed + 1)
    started = time.monotonic()
    survivor = victim = None
    try:
        token = create_token(setup)
        victim = start_daemon(setup, "pair-a")
        survivor = start_daemon(setup, "pair-b")
        titles = [f"CH-pair-{i:05d} 水位超警戒" for i in range(args.pair_incidents)]
        storm = [
            asyncio.create_task(
                post_incidents(run, daemon, token, titles[n::2], rng, asyncio.Event())
            )
            for n, daemon in enumerate((victim, survivor))
        ]
        # Kill the first daemon at a moment it holds claimed messages.
        deadline = time.monotonic() + 30
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        while not await count_sending(engine, "pair-a") and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        kill(victim)
        run.kills["pair: holding claims"] += 1
        run.killed_workers.add("pair-a")
        killed_at = time.monotonic()
        async with engine.connect() as connection:
            held = [
                r[0]
                for r in await connection.execute(
                    text(
                        "SELECT id FROM messages WHERE state = 'sending' AND claimed_by = 'pair-a'"
                    )
                )
            ]
        log(f"pair: killed pair-a holding {len(held)} messages")
        await asyncio.gather(*storm)  # the victim's share is cut short; the rest goes on
        # The rest of the victim's share goes to the survivor.
        unposted = [t for t in titles if t not in {p.title for p in run.posted}]
        await post_incidents(run, survivor, token, unposted, rng, asyncio.Event())
        last_final = None
        while held and time.monotonic() - killed_at < LEASE_SECONDS + 120:
            async with engine.connect() as connection:
                left = (
                    await connection.execute(
                        text(
                            "SELECT count(*) FROM messages WHERE state IN ('pending', 'sending')"
                            f" AND id IN ({','.join(map(str, held))})"
                        )
                    )
                ).scalar_one()
            if not left:
                last_final = time.monotonic() - killed_at
                break
            await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            takers = Counter(
                r[0]
                for r in await connection.execute(
                    text(
                        "SELECT detail FROM message_events WHERE state = 'sending'"
                        f" AND message_id IN ({','.join(map(str, held)) or '0'})"
                    )
                )
            )
        run.takeover = {
            "held_by_killed": len(held),
            "takeover_seconds": round(last_final, 1) if last_final is not None else None,
            "lease_seconds": LEASE_SECONDS,
            "taken_by_survivor": sum(n for d, n in takers.items() if d.endswith("pair-b")),
        }
        log(f"pair: takeover {run.takeover}")
        settle_started = time.monotonic()
        await settle(engine, args.settle_timeout)
        run.settle_seconds = time.monotonic() - settle_started
        stop(survivor)
        run.seconds = time.monotonic() - started
        run.figures = await check(run, setup, engine)
    finally:
        for daemon in (victim, survivor):
            if daemon is not None:
                stop(daemon)
        providers.close()
        await engine.dispose()
        if not args.keep:
            await drop_database(setup)
    return run


# ---------------------------------------------------------------- entry point

HEADLINE = (
    "incidents_answered_2xx",
    "messages",
    "kills",
    "duplicates_unexplained",
    "duplicates_after_crash_at_provider",
    "losses",
    "stuck",
    "unreachable_but_reached",
)


def report(run: Run) -> None:
    print(f"\n== {run.backend}: {run.seconds:.0f} s (settling {run.settle_seconds:.0f} s)")
    for key, value in run.figures.items():
        print(f"  {key:40} {value}")
    if run.takeover:
        print(f"  {'takeover':40} {run.takeover}")
    for problem in run.problems[:40]:
        print(f"  ! {problem}")
    if len(run.problems) > 40:
        print(f"  ! ... and {len(run.problems) - 40} more")


def clean(run: Run) -> bool:
    f = run.figures
    return (
        f["losses"] == 0
        and f["stuck"] == 0
        and not f["duplicates_unexplained"]
        and f["duplicate_steps"] == 0
        and f["unreachable_but_reached"] == 0
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--incidents", type=int, default=1000, help="per backend, over all rounds")
    p.add_argument("--fail-rate", type=float, default=0.3)
    p.add_argument("--smtp-down", type=float, default=45.0, help="seconds SMTP refuses at first")
    p.add_argument("--rate-limit", type=int, default=6, help="DUTYD_RATE_LIMIT_PER_MINUTE")
    p.add_argument(
        "--wait-scale", type=float, default=1.0, help="seconds per minute of a plan's wait"
    )
    p.add_argument("--safe-kills", action="store_true", help="kill only when nothing is sending")
    p.add_argument("--takeover", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--pair-incidents", type=int, default=200)
    p.add_argument("--settle-timeout", type=float, default=LEASE_SECONDS + 600)
    p.add_argument(
        "--postgres-url", default=os.environ.get("DUTYD_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    )
    p.add_argument("--safe-wait", type=float, default=30.0, help="longest wait for a safe kill")
    p.add_argument("--hang-share", type=float, default=0.1, help="share of failures that hang")
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--work-dir", type=Path, help="keep logs and records here")
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p


async def main_async(args: argparse.Namespace) -> list[Run]:
    base = args.work_dir or Path(tempfile.mkdtemp(prefix="dutyd-crash-"))
    log(f"work directory {base}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    runs = [await run_backend(backend, base, args) for backend in backends]
    if args.takeover and "postgres" in backends:
        runs.append(await run_takeover(base, args))
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = asyncio.run(main_async(args))
    for run in runs:
        report(run)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    r.backend: {
                        "figures": r.figures,
                        "takeover": r.takeover,
                        "seconds": r.seconds,
                        "settle_seconds": r.settle_seconds,
                        "problems": r.problems,
                        "at": datetime.now(UTC).isoformat(),
                    }
                    for r in runs
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    ok = all(clean(run) for run in runs)
    print("\nRESULT:", "clean" if ok else "FAULTS FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
