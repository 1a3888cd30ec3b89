"""The engine's share of public warnings: fan-outs a chunk at a time, the withdrawal of
what a lifted or replaced warning still had waiting, and expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.notify.broadcasts import withdraw_waiting
from service.notify.tables import MessageRow, MessageState, state_is
from service.store.database import is_postgres
from service.warnings import service
from service.warnings.fanout import Texts, fan_out_chunk, texts_for
from service.warnings.models import MsgType, Stage
from service.warnings.tables import WarningRow
from service.warnings.workflow import WarningRules

# Recipients per fan-out transaction. Larger chunks cost the database less per message
# and keep several processes' outboxes fed (docs/performance.md, "Public warnings"); the
# first chunk of a warning is small, so that its first messages go out at once.
FANOUT_CHUNK = 6000
FIRST_CHUNK = 250
WITHDRAW_CHUNK = 20000
# Nor is the next chunk made (by any process) until the first chunk's due messages are
# handed over, for up to this long: a chunk holds the warning's row, and on PostgreSQL the
# outbox's gate reads that row FOR SHARE to hand a batch over, so another process's chunk
# held the first SMS of a lift back for as long as it ran (docs/performance.md).
FIRST_HOLD = timedelta(seconds=2)


@dataclass
class FanoutPass:
    """What one pass did: recipients targeted, messages withdrawn, warnings expired."""

    targeted: int = 0
    withdrawn: int = 0
    expired: int = 0
    more: bool = False  # work is left: run again at once


class WarningTexts:
    """Rendered texts per warning message, kept while its fan-out runs (one process)."""

    def __init__(self) -> None:
        self._texts: dict[int, Texts] = {}
        # Warnings whose first chunk this process made: it waits for their first
        # messages at once (`more`); another process leaves them to its next pass.
        self.started: set[int] = set()

    def of(self, row: WarningRow, rules: WarningRules) -> Texts:
        texts = self._texts.get(row.id)
        if texts is None:
            sender = rules.units.get(row.unit_id)
            texts = texts_for(
                service.content_of(row),
                MsgType(row.msg_type),
                {
                    "zh-CN": sender.zh if sender else row.unit_id,
                    "en-US": (sender.en or sender.zh) if sender else row.unit_id,
                },
                rules.sms.max_segments,
            )
            self._texts[row.id] = texts
        return texts

    def forget(self, warning_id: int) -> None:
        self._texts.pop(warning_id, None)
        self.started.discard(warning_id)


async def run_warning_pass(
    sessions: async_sessionmaker[AsyncSession],
    rules: WarningRules,
    texts: WarningTexts,
    now: datetime,
    *,
    chunks: int = 10,
) -> FanoutPass:
    """Up to `chunks` chunks of fan-out, then one chunk of withdrawals, then expiry."""
    done = FanoutPass()
    for _ in range(chunks):
        async with sessions.begin() as session:
            row = await _next(session, "running")
            if row is None:
                break
            if await _first_still_out(session, row, now):
                done.more = row.id in texts.started
                break
            earlier = [
                r.id
                for r in await service.chain_of(session, service.root_id_of(row))
                if r.id != row.id and r.identifier is not None
            ]
            before = row.targeted
            first = row.fanout_cursor == 0
            finished = await fan_out_chunk(
                session,
                row,
                rules=rules,
                texts=texts.of(row, rules),
                earlier=earlier,
                now=now,
                chunk=min(FIRST_CHUNK, FANOUT_CHUNK) if first else FANOUT_CHUNK,
            )
            done.targeted += row.targeted - before
            if finished:
                row.fanout_state = "done"
                row.fanout_done_at = now
                service.add_step(
                    session,
                    row,
                    "fanned_out",
                    actor="dutyd",
                    now=now,
                    data={"targeted": row.targeted},
                )
                texts.forget(row.id)
            elif first:
                # A warning's first chunk goes out before its next one is made: the
                # outbox runs between passes (a lift's first SMS within a second).
                texts.started.add(row.id)
                done.more = True
                break
    else:
        done.more = True
    async with sessions.begin() as session:
        row = await _next(session, "stopping")
        if row is not None:
            withdrawn = await withdraw_waiting(session, [row.id], now, WITHDRAW_CHUNK)
            done.withdrawn += withdrawn
            if withdrawn < WITHDRAW_CHUNK:
                row.fanout_state = "stopped"
                service.add_step(
                    session,
                    row,
                    "stopped",
                    actor="dutyd",
                    now=now,
                    data={"withdrawn_last": withdrawn},
                )
            else:
                done.more = True
    async with sessions.begin() as session:
        done.expired = await expire_due(session, now)
    return done


async def _first_still_out(session: AsyncSession, row: WarningRow, now: datetime) -> bool:
    """Only the first chunk is made, lately, and some of its due messages are not yet
    handed over (pending and due, or being sent)."""
    if not row.fanout_cursor or row.targeted > FIRST_CHUNK:
        return False
    if row.updated_at is None or now - row.updated_at >= FIRST_HOLD:
        return False
    out = exists().where(
        MessageRow.broadcast_id == row.id,
        or_(
            and_(state_is(MessageState.pending), MessageRow.due_at <= now),
            state_is(MessageState.sending),
        ),
    )
    return bool(await session.scalar(select(out)))


async def _next(session: AsyncSession, state: str) -> WarningRow | None:
    query = (
        select(WarningRow).where(WarningRow.fanout_state == state).order_by(WarningRow.id).limit(1)
    )
    if is_postgres(session):
        # Another process takes another warning; this one's chunks stay in order. NO KEY
        # UPDATE conflicts with every lock taken on warnings (the workflow's FOR UPDATE,
        # the gate's FOR SHARE, another fan-out's), not with the KEY SHARE of a foreign
        # key check.
        query = query.with_for_update(skip_locked=True, key_share=True)
    return await session.scalar(query)


async def expire_due(session: AsyncSession, now: datetime) -> int:
    """Published warnings past their expiry stop going out and leave the active feed."""
    rows = list(
        await session.scalars(
            select(WarningRow).where(
                WarningRow.stage == Stage.published.value, WarningRow.expires_at <= now
            )
        )
    )
    for row in rows:
        service.move(row, Stage.expired, now)
        if row.fanout_state in ("running", "done"):
            row.fanout_state = "stopping"
        service.add_step(session, row, "expired", actor="dutyd", now=now)
    return len(rows)


async def next_warning_due(session: AsyncSession) -> datetime | None:
    """When the engine must look again for expiry: the soonest published expiry."""
    from sqlalchemy import func

    return await session.scalar(
        select(func.min(WarningRow.expires_at)).where(WarningRow.stage == Stage.published.value)
    )
