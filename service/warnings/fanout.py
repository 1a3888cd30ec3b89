"""Telling everyone in a warning's area, a chunk of recipients per transaction.

A chunk reads the next recipients after the cursor (by id) who may be in the area — by a
range scan of their division codes, or because they have a shape to test, or because an
earlier message of the warning reached them — keeps those the areas reach, queues their
messages through the outbox and moves the cursor, all in one transaction: a crash loses
and repeats nothing. SMS are paced to the provider's throughput by their due times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, null, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.broadcasts import BroadcastMessage, queue_broadcast, reached
from service.notify.tables import MessageRow
from service.store.bulk import among
from service.warnings.areas import AreaMatcher, code_prefix
from service.warnings.models import Area, MsgType, WarningContent
from service.warnings.sms_text import warning_sms_for
from service.warnings.tables import RecipientChannelRow, RecipientCodeRow, RecipientRow, WarningRow
from service.warnings.workflow import WarningRules


@dataclass(frozen=True)
class Texts:
    """What the warning says by SMS and by email, per language, rendered once."""

    sms: dict[str, str]
    email_subject: dict[str, str]
    email_body: dict[str, str]

    def of(self, language: str) -> tuple[str, str, str]:
        lang = language if language in self.sms else "zh-CN"
        return self.sms[lang], self.email_subject[lang], self.email_body[lang]


def texts_for(
    content: WarningContent, kind: MsgType, sender_names: dict[str, str], max_segments: int
) -> Texts:
    """`sender_names`: the issuing body's name per language ("zh-CN", "en-US")."""
    sms, subject, body = {}, {}, {}
    for language in ("zh-CN", "en-US"):
        sender_name = sender_names.get(language) or sender_names["zh-CN"]
        sms[language] = warning_sms_for(
            content,
            kind=kind,
            sender_name=sender_name,
            language=language,
            max_segments=max_segments,
        )
        full = warning_sms_for(content, kind=kind, sender_name=sender_name, language=language)
        subject[language] = full.split("：", 1)[0].split(": ", 1)[0][:200]
        body[language] = full
    return Texts(sms, subject, body)


def _after(prefix: str) -> str:
    """The least string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def code_ranges(areas: list[Area]) -> list[tuple[str, str]]:
    prefixes = sorted({code_prefix(code) for area in areas for code in area.codes})
    return [(p, _after(p)) for p in prefixes]


async def fan_out_chunk(
    session: AsyncSession,
    row: WarningRow,
    *,
    rules: WarningRules,
    texts: Texts,
    earlier: list[int],
    now: datetime,
    chunk: int,
) -> bool:
    """Queue the next chunk of the warning's messages; True when none are left."""
    content = WarningContent.model_validate(row.content)
    by_area = row.msg_type != MsgType.Cancel.value  # a lift goes to those told, no one else
    ranges = code_ranges(content.areas) if by_area else []
    by_code: ColumnElement[bool] | None = None
    if ranges:
        by_code = exists().where(
            RecipientCodeRow.recipient_id == RecipientRow.id,
            # Said again of the codes, so that a join starts at the cursor, not at the
            # first recipient (PostgreSQL infers no inequality through the join).
            RecipientCodeRow.recipient_id > row.fanout_cursor,
            or_(
                *(
                    and_(RecipientCodeRow.code >= lo, RecipientCodeRow.code < hi)
                    for lo, hi in ranges
                )
            ),
        )
    told_before = (
        RecipientRow.id.in_(reached(earlier).where(MessageRow.recipient_id > row.fanout_cursor))
        if earlier
        else None
    )
    has_shapes = any(a.polygons or a.circles for a in content.areas)
    by_shape = RecipientRow.has_geometry if by_area and has_shapes else None
    ways = [w for w in (by_code, told_before, by_shape) if w is not None]
    # Only one way in (an Alert by division codes, a lift to those told): every candidate
    # came in that way, and asking again per row would make PostgreSQL hash every code
    # of the area (every recipient told) left, in every chunk.
    only = ways[0] if len(ways) == 1 else None

    def came(way: ColumnElement[bool] | None) -> ColumnElement[bool]:
        if way is None:
            return false()
        return true() if way is only else way

    columns = (
        RecipientRow.id,
        RecipientRow.language,
        came(by_code).label("by_code"),
        came(told_before).label("told"),
        RecipientRow.has_geometry,
        # Read only for a warning to some groups (a drill's): the rest never pay for it.
        (RecipientRow.groups if content.only_groups else null()).label("groups"),
    )
    if only is not None and only is told_before:
        # A lift: the next of those told, read from their messages in one pass, not
        # joined to every recipient (docs/performance.md, "Public warnings"). Without
        # DISTINCT the database keeps only the first `chunk` rows as it reads, instead
        # of sorting all of them; a recipient with several messages counts once here, so
        # the chunk is everyone told up to the last recipient read.
        told_rows = list(
            await session.scalars(
                reached(earlier)
                .where(MessageRow.recipient_id > row.fanout_cursor)
                .order_by(MessageRow.recipient_id)
                .limit(chunk)
            )
        )
        told = list(dict.fromkeys(told_rows))
        candidates = (
            await session.execute(
                select(*columns)
                .where(among(session, RecipientRow.id, told))
                .order_by(RecipientRow.id)
            )
        ).all()
        seen, last = len(told_rows), (told[-1] if told else None)
    else:
        candidates = (
            await session.execute(
                select(*columns)
                .where(RecipientRow.id > row.fanout_cursor, or_(false(), *ways))
                .order_by(RecipientRow.id)
                .limit(chunk)
            )
        ).all()
        seen, last = len(candidates), (candidates[-1].id if candidates else None)
    shaped = [c.id for c in candidates if c.has_geometry and not (c.by_code or c.told)]
    inside_shapes = await _inside_shapes(session, shaped, content.areas) if shaped else set()
    wanted = set(content.only_groups)
    chosen = {
        c.id: c.language
        for c in candidates
        if (c.by_code or c.told or c.id in inside_shapes)
        and (not wanted or wanted.intersection(c.groups or ()))
    }
    messages = await _messages(session, row, chosen, texts, rules, now)
    await queue_broadcast(session, row.id, messages, now)
    row.targeted += len(chosen)
    if last is not None:
        row.fanout_cursor = last
    row.updated_at = now
    return seen < chunk


async def _inside_shapes(session: AsyncSession, ids: list[int], areas: list[Area]) -> set[int]:
    matcher = AreaMatcher(areas)
    rows = await session.execute(
        select(RecipientRow.id, RecipientRow.area).where(among(session, RecipientRow.id, ids))
    )
    return {rid for rid, area in rows if matcher.reaches(Area.model_validate(area))}


async def _messages(
    session: AsyncSession,
    row: WarningRow,
    chosen: dict[int, str],
    texts: Texts,
    rules: WarningRules,
    now: datetime,
) -> list[BroadcastMessage]:
    if not chosen:
        return []
    channels = await session.execute(
        select(
            RecipientChannelRow.recipient_id,
            RecipientChannelRow.channel,
            RecipientChannelRow.address,
        )
        .where(
            among(session, RecipientChannelRow.recipient_id, list(chosen)),
            RecipientChannelRow.opted_out_at.is_(None),
        )
        .order_by(RecipientChannelRow.recipient_id, RecipientChannelRow.id)
    )
    slot = timedelta(seconds=1 / rules.sms.per_second)
    next_due = max(row.fanout_next_due or now, now)
    messages = []
    for recipient_id, channel, address in channels:
        sms, subject, body = texts.of(chosen[recipient_id])
        if channel == "sms":
            messages.append(BroadcastMessage(recipient_id, channel, address, sms, next_due))
            next_due += slot
        else:
            messages.append(BroadcastMessage(recipient_id, channel, address, body, now, subject))
    row.fanout_next_due = next_due
    return messages
