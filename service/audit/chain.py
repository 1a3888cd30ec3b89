"""The hash chain: entries sealed in order, each carrying the hash of the one before; the
head anchored now and then, in the log and in a file outside the database; and the walk
that finds the first entry edited, deleted or inserted out of order.

Entries are sealed after their transaction commits, not in it: chaining in the writing
transaction would make every audited change in every process wait for one lock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.tables import AuditRow
from service.store.database import is_postgres

GENESIS = "0" * 64
SEAL_BATCH = 5000
PAGE = 2000
ANCHOR_ACTION = "audit anchor"


def entry_hash(row: AuditRow, seq: int, prev_hash: str) -> str:
    body = json.dumps(
        [
            seq,
            row.id,
            row.at.astimezone(UTC).isoformat(),
            row.actor,
            row.actor_kind,
            row.address,
            row.action,
            row.subjects,
            row.changes,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def _head(session: AsyncSession) -> tuple[int, str]:
    row = await session.scalar(
        select(AuditRow).where(AuditRow.seq.is_not(None)).order_by(AuditRow.seq.desc()).limit(1)
    )
    return (row.seq or 0, row.hash or GENESIS) if row is not None else (0, GENESIS)


async def seal(session: AsyncSession, now: datetime) -> int:
    """Chain the committed entries not yet sealed, the oldest first; how many."""
    if is_postgres(session):
        # One sealer at a time across processes (released at commit).
        await session.execute(text("SELECT pg_advisory_xact_lock(7316532)"))
    seq, prev = await _head(session)
    rows = list(
        await session.scalars(
            select(AuditRow).where(AuditRow.seq.is_(None)).order_by(AuditRow.id).limit(SEAL_BATCH)
        )
    )
    for row in rows:
        seq += 1
        row.seq, row.prev_hash = seq, prev
        row.hash = prev = entry_hash(row, seq, prev)
        row.sealed_at = now
    return len(rows)


async def anchor(session: AsyncSession, now: datetime, anchor_file: Path) -> tuple[int, str] | None:
    """Write the chain's head to a file outside the database and into the log itself."""
    seq, head = await _head(session)
    if seq == 0:
        return None
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    with anchor_file.open("a", encoding="utf-8") as out:
        out.write(f"{seq} {head} {now.astimezone(UTC).isoformat()}\n")
    session.add(
        AuditRow(
            at=now,
            actor="dutyd",
            actor_kind="system",
            address="",
            action=ANCHOR_ACTION,
            subjects=[],
            changes={"seq": seq, "hash": head, "file": str(anchor_file)},
        )
    )
    return seq, head


@dataclass(frozen=True)
class Verdict:
    entries: int
    problem: str | None  # the first thing wrong, naming the entry


async def verify(session: AsyncSession, anchor_file: Path | None) -> Verdict:
    """Walk the chain: the first entry edited, deleted or inserted out of order; the
    anchors written outside the database must still match."""
    prev, expected_seq, walked = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    while True:
        rows = list(
            await session.scalars(
                select(AuditRow)
                .where(AuditRow.seq.is_not(None), AuditRow.seq >= expected_seq)
                .order_by(AuditRow.seq)
                .limit(PAGE)
            )
        )
        if not rows:
            break
        for row in rows:
            assert row.seq is not None
            if row.seq != expected_seq:
                return Verdict(
                    walked,
                    f"entry {expected_seq} is missing (deleted): the chain "
                    f"goes from {expected_seq - 1} to {row.seq}",
                )
            if row.prev_hash != prev:
                return Verdict(
                    walked,
                    f"entry {row.seq} (id {row.id}) does not follow entry "
                    f"{row.seq - 1}: inserted out of order, or one before it replaced",
                )
            if entry_hash(row, row.seq, prev) != row.hash:
                return Verdict(
                    walked,
                    f"entry {row.seq} (id {row.id}) was edited: its content "
                    "no longer gives its hash",
                )
            prev, expected_seq = row.hash or "", expected_seq + 1
            hashes[row.seq] = prev
            walked += 1
    stray = await session.scalar(
        select(func.count()).where(AuditRow.seq.is_(None), AuditRow.hash.is_not(None))
    )
    if stray:
        return Verdict(
            walked, f"{stray} entr(ies) carry a hash but no place in the chain: inserted"
        )
    problem = _check_anchors(anchor_file, hashes, walked)
    return Verdict(walked, problem)


def _check_anchors(anchor_file: Path | None, hashes: dict[int, str], walked: int) -> str | None:
    if anchor_file is None or not anchor_file.exists():
        return None
    for number, line in enumerate(anchor_file.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit():
            return f"{anchor_file}:{number}: not an anchor line"
        seq, head = int(parts[0]), parts[1]
        if seq > walked:
            return (
                f"{anchor_file}:{number} anchors entry {seq}, but the chain ends at {walked}: "
                "entries after it were deleted"
            )
        if hashes.get(seq) != head:
            return f"{anchor_file}:{number}: entry {seq} no longer has the anchored hash: rewritten"
    return None


def entry_line(row: AuditRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at.astimezone(UTC).isoformat(timespec="seconds"),
        "actor": row.actor,
        "kind": row.actor_kind,
        "address": row.address,
        "action": row.action,
        "subjects": row.subjects,
        "changes": row.changes,
    }
