"""Digests: many messages due at once for one person on one channel go as one message.

A digest row has no incident; the messages it stands for become `bundled` with
`digest_of` pointing at it, and keep their incident, so results still reach each one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.notify.events import event_values
from service.notify.sms_text import DIGEST_SEGMENTS, segments
from service.notify.tables import CLAIM_COLUMNS, MessageRow, MessageState
from service.store.bulk import among
from service.texts.words import clip

log = structlog.get_logger(__name__)

DIGEST_LINE_CHARS = 60


class MessageText(Protocol):
    id: int
    channel: str
    address: str
    subject: str
    body: str
    incident_id: int | None
    person_id: str


def digest_body(items: Sequence[MessageText]) -> str:
    """Every bundled message keeps a line: an incident is never dropped from a digest."""
    lines = [f"{len(items)}条新通知 / {len(items)} new notifications:"]
    for n, row in enumerate(items, start=1):
        first = row.body.strip().splitlines()[0] if row.body.strip() else row.subject
        code = f"#{row.incident_id} " if row.incident_id is not None else ""
        lines.append(f"{n}) {code}{clip(first, DIGEST_LINE_CHARS)}")
    return "\n".join(lines)


def digest_chunks(items: list[Row[Any]], channel: Channel) -> list[list[Row[Any]]]:
    """Split into digests short enough to arrive whole: an SMS (or call) digest is at most
    DIGEST_SEGMENTS long, so it is never cut; a mail digest carries everything."""
    if channel is Channel.email:
        return [items]
    chunks: list[list[Row[Any]]] = [[]]
    for row in items:
        if chunks[-1] and segments(digest_body([*chunks[-1], row])) > DIGEST_SEGMENTS:
            chunks.append([])
        chunks[-1].append(row)
    return chunks


async def bundle(
    session: AsyncSession,
    person_id: str,
    channel: str,
    items: list[Row[Any]],
    now: datetime,
    events: list[dict[str, Any]],
) -> Row[Any]:
    """One digest message standing for `items`, which become `bundled`."""
    digest = (
        await session.execute(
            insert(MessageRow)
            .values(
                incident_id=None,
                person_id=person_id,
                channel=channel,
                address=items[0].address,
                subject=f"{len(items)}条新通知 / {len(items)} new notifications",
                body=digest_body(items),
                state=MessageState.pending,
                due_at=now,
                created_at=now,
                updated_at=now,
                attempts=0,
            )
            .returning(*CLAIM_COLUMNS)
        )
    ).one()
    ids = [row.id for row in items]
    await session.execute(
        update(MessageRow)
        .where(among(session, MessageRow.id, ids))
        .values(state=MessageState.bundled, digest_of=digest.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    events.extend(
        event_values(i, MessageState.bundled, now, f"bundled into digest #{digest.id}") for i in ids
    )
    log.info("message.digest", person=person_id, channel=channel, messages=len(items))
    return digest


async def digests_among(session: AsyncSession, rows: Sequence[Row[Any]]) -> set[int]:
    """Which of these rows are digests (some message was bundled into them)."""
    candidates = [row.id for row in rows if row.incident_id is None]
    if not candidates:
        return set()
    return set(
        await session.scalars(
            select(MessageRow.digest_of)
            .where(among(session, MessageRow.digest_of, candidates))
            .distinct()
        )
    )


async def bundled_incidents(session: AsyncSession, digest_ids: list[int]) -> dict[int, list[int]]:
    """The incidents each digest message was about, in the order they were bundled."""
    if not digest_ids:
        return {}
    about: dict[int, list[int]] = defaultdict(list)
    for digest_id, incident_id in await session.execute(
        select(MessageRow.digest_of, MessageRow.incident_id)
        .where(
            among(session, MessageRow.digest_of, digest_ids),
            MessageRow.incident_id.is_not(None),
        )
        .order_by(MessageRow.id)
    ):
        if incident_id not in about[digest_id]:
            about[digest_id].append(incident_id)
    return about
