"""The recipients of public warnings, stored: an import replaces each named recipient's
area, channels and groups whole; opting out and back in is per address, recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.store.bulk import among, insert_rows
from service.warnings.models import Area
from service.warnings.recipients_csv import RecipientRecord
from service.warnings.tables import (
    RecipientChannelRow,
    RecipientCodeRow,
    RecipientEventRow,
    RecipientRow,
)

CHUNK = 2000


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


async def import_recipients(
    session: AsyncSession, records: list[RecipientRecord], now: datetime, *, source: str
) -> ImportResult:
    """Store `records` (all of a file that had no rejected line): new ones created, known
    ones (by id) replaced whole. Opt-outs of addresses kept are kept."""
    created = updated = 0
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        known = {
            external: (rid, opted)
            for external, rid, opted in await _known(session, [r.id for r in chunk])
        }
        opted_out: dict[tuple[int, str, str], datetime] = {}
        for rid, channel, address, at in await session.execute(
            select(
                RecipientChannelRow.recipient_id,
                RecipientChannelRow.channel,
                RecipientChannelRow.address,
                RecipientChannelRow.opted_out_at,
            ).where(
                among(session, RecipientChannelRow.recipient_id, [v[0] for v in known.values()]),
                RecipientChannelRow.opted_out_at.is_not(None),
            )
        ):
            opted_out[(rid, channel, address)] = at
        ids: dict[str, int] = {}
        for record in chunk:
            if record.id in known:
                ids[record.id] = known[record.id][0]
                await session.execute(
                    update(RecipientRow)
                    .where(RecipientRow.id == ids[record.id])
                    .values(**_values(record, now))
                )
        fresh = [r for r in chunk if r.id not in known]
        # One insert for the new ones, then their ids by their external ids (SQLite does
        # not return the ids of a many-row insert in order).
        await insert_rows(
            session,
            RecipientRow.__table__,
            [{"external_id": r.id, "created_at": now, **_values(r, now)} for r in fresh],
        )
        ids.update((e, i) for e, i, _ in await _known(session, [r.id for r in fresh]))
        created += len(fresh)
        updated += len(chunk) - len(fresh)
        replaced = [ids[r.id] for r in chunk if r.id in known]
        if replaced:
            for table in (RecipientCodeRow, RecipientChannelRow):
                await session.execute(
                    delete(table).where(among(session, table.recipient_id, replaced))
                )
        await insert_rows(
            session,
            RecipientCodeRow.__table__,
            [{"recipient_id": ids[r.id], "code": code} for r in chunk for code in r.area.codes],
        )
        await insert_rows(
            session,
            RecipientChannelRow.__table__,
            [
                {
                    "recipient_id": ids[r.id],
                    "channel": c.channel,
                    "address": c.address,
                    "opted_out_at": opted_out.get((ids[r.id], c.channel, c.address)),
                }
                for r in chunk
                for c in r.channels
            ],
        )
        await insert_rows(
            session,
            RecipientEventRow.__table__,
            [
                {
                    "recipient_id": ids[r.id],
                    "at": now,
                    "event": "updated" if r.id in known else "imported",
                    "detail": source,
                }
                for r in chunk
            ],
        )
    return ImportResult(created, updated)


async def _known(session: AsyncSession, external_ids: list[str]) -> list[tuple[str, int, Any]]:
    rows = await session.execute(
        select(RecipientRow.external_id, RecipientRow.id, RecipientRow.updated_at).where(
            among(session, RecipientRow.external_id, external_ids)
        )
    )
    return [(e, i, u) for e, i, u in rows]


def _values(record: RecipientRecord, now: datetime) -> dict[str, Any]:
    area: Area = record.area
    return {
        "name": record.name,
        "kind": record.kind,
        "language": record.language,
        "area": area.model_dump(mode="json"),
        "has_geometry": bool(area.polygons or area.circles),
        "groups": list(record.groups),
        "updated_at": now,
    }


async def set_opt_out(
    session: AsyncSession, address: str, *, out: bool, now: datetime, via: str
) -> list[int]:
    """Opt `address` out of (or back into) public warnings, on every recipient that has
    it; the recipients it touched (none: nobody has that address)."""
    rows = list(
        await session.scalars(
            select(RecipientChannelRow).where(RecipientChannelRow.address == address)
        )
    )
    touched = []
    for row in rows:
        if out == (row.opted_out_at is not None):
            continue
        row.opted_out_at = now if out else None
        touched.append(row.recipient_id)
        session.add(
            RecipientEventRow(
                recipient_id=row.recipient_id,
                at=now,
                event="opted_out" if out else "opted_in",
                detail=f"{row.channel} {address} via {via}",
            )
        )
    return sorted(set(touched))


async def recipient_languages(session: AsyncSession, address: str) -> set[str]:
    """The languages of the recipients with this address (none: nobody has it)."""
    return set(
        await session.scalars(
            select(RecipientRow.language)
            .join(RecipientChannelRow, RecipientChannelRow.recipient_id == RecipientRow.id)
            .where(RecipientChannelRow.address == address)
        )
    )


async def recipient_by_external_id(session: AsyncSession, external_id: str) -> RecipientRow:
    row = await session.scalar(select(RecipientRow).where(RecipientRow.external_id == external_id))
    if row is None:
        raise NotFound("recipient", external_id)
    return row


async def channels_of(session: AsyncSession, recipient_ids: list[int]) -> list[RecipientChannelRow]:
    return list(
        await session.scalars(
            select(RecipientChannelRow)
            .where(among(session, RecipientChannelRow.recipient_id, recipient_ids))
            .order_by(RecipientChannelRow.id)
        )
    )


async def events_of(session: AsyncSession, recipient_id: int) -> list[RecipientEventRow]:
    return list(
        await session.scalars(
            select(RecipientEventRow)
            .where(RecipientEventRow.recipient_id == recipient_id)
            .order_by(RecipientEventRow.id)
        )
    )


async def count_recipients(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RecipientRow)) or 0)


@dataclass(frozen=True)
class RecipientListing:
    row: RecipientRow
    channels: list[RecipientChannelRow]


async def list_recipients(
    session: AsyncSession, *, area: str | None, limit: int
) -> list[RecipientListing]:
    """Recipients (with their addresses), those under division code `area` if given."""
    query = select(RecipientRow).order_by(RecipientRow.id).limit(limit)
    if area is not None:
        from service.warnings.areas import code_prefix

        prefix = code_prefix(area)
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        query = query.where(
            RecipientRow.id.in_(
                select(RecipientCodeRow.recipient_id).where(
                    RecipientCodeRow.code >= prefix, RecipientCodeRow.code < after
                )
            )
        )
    rows = list(await session.scalars(query))
    channels = await channels_of(session, [r.id for r in rows])
    by_recipient: dict[int, list[RecipientChannelRow]] = {}
    for channel in channels:
        by_recipient.setdefault(channel.recipient_id, []).append(channel)
    return [RecipientListing(r, by_recipient.get(r.id, [])) for r in rows]
