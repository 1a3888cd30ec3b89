"""Publishing a warning message: its identifier (GB/T 35965.1 style), its CAP (validated,
signed where a key is set), the retiring of what it replaces or lifts, its pushes to the
downstream receivers, and the start of its fan-out, in the transaction that signs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.broadcasts import queue_pushes
from service.roster.roster import Roster
from service.warnings import service
from service.warnings.cap import identifier_for, render_cap, validate_cap
from service.warnings.cap_build import cap_alert
from service.warnings.cap_sign import sign_cap
from service.warnings.models import CapReference, CapStatus, MsgType, Stage
from service.warnings.tables import WarningRow
from service.warnings.workflow import WarningRules

CHINA = ZoneInfo("Asia/Shanghai")
OPEN_STAGES = (Stage.draft, Stage.in_review, Stage.awaiting_signoff)


@dataclass(frozen=True)
class WarningDesk:
    """What every step needs: the rules in force, the roster (units), the clock's now."""

    rules: WarningRules
    roster: Roster
    now: datetime
    # The key and certificate (PEM) published CAP is signed with (XML-DSig); None: unsigned.
    signing: tuple[bytes, bytes] | None = None


async def publish(
    session: AsyncSession, desk: WarningDesk, row: WarningRow, *, signer: str
) -> None:
    """Give the message its identifier and CAP, retire what it replaces, start its fan-out."""
    now = desk.now
    sender = desk.rules.units[row.unit_id]
    chain = await service.chain_of(session, service.root_id_of(row), lock=True)
    earlier = [r for r in chain if r.id != row.id and r.identifier is not None]
    day_start = datetime.combine(now.astimezone(CHINA).date(), time(), CHINA)
    row.identifier = identifier_for(
        sender.area_code,
        desk.rules.sender_code,
        now,
        await service.sequence_for(session, row.unit_id, day_start),
    )
    row.sender = desk.rules.sender
    content = service.content_of(row)
    alert = cap_alert(
        content,
        identifier=row.identifier,
        sender=row.sender,
        sender_names={"zh": sender.zh, "en": sender.en or sender.zh},
        sent=now,
        msg_type=MsgType(row.msg_type),
        references=[
            CapReference(sender=r.sender, identifier=r.identifier or "", sent=r.published_at or now)
            for r in earlier
        ],
        incidents=await service.incidents_of(session, [r.id for r in chain]),
    )
    xml = render_cap(alert)
    validate_cap(xml)
    if desk.signing is not None:
        xml = sign_cap(xml, *desk.signing)
    row.cap_xml = xml.decode("utf-8")
    drill = content.status is not CapStatus.Actual
    queue_pushes(
        session,
        row.id,
        [(r.name, r.url) for r in desk.rules.receivers if r.drills or not drill],
        row.cap_xml,
        now,
    )
    row.signed_by = signer
    row.published_at = now
    service.move(row, Stage.published, now)
    retired = Stage.cancelled if row.msg_type == MsgType.Cancel.value else Stage.superseded
    for other in chain:
        if other.id == row.id:
            continue
        if other.stage == Stage.published.value:
            service.move(other, retired, now)
            service.add_step(
                session, other, retired.value, actor=signer, now=now, data={"by": row.id}
            )
        elif other.stage in OPEN_STAGES and row.msg_type == MsgType.Cancel.value:
            service.move(other, Stage.cancelled, now)  # an update in the works dies with it
        if other.fanout_state in ("running", "done"):
            other.fanout_state = "stopping"
    row.fanout_state = "running"
    row.fanout_cursor = 0
    row.fanout_next_due = now
    service.add_step(
        session, row, "published", actor=signer, now=now, data={"identifier": row.identifier}
    )
