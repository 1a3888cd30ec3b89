"""Relay from upstream: CAP from another producer (the weather bureau), pushed to dutyd or
read from its Atom feed, becomes dutyd's own warning by rule (`warnings.relay_rules`):
a draft submitted for review, or relayed at once to the areas it names. It is recorded
and cancellable as any other; an upstream Update updates it, an upstream Cancel lifts it.

Who acts, so that the step history stays honest and the drafter-never-signs rule holds:
- `relay:<source>` drafts (the upstream wrote it), submits, and lifts on an upstream Cancel;
- `relay-rule:<rule>` publishes a relayed message: the rule in the warnings file is the
  authority that signs, with a step `relayed` naming the upstream sender and identifier.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.policy import Grant, Principal
from service.auth.tokens import Role
from service.catalog import Level
from service.errors import Forbidden, NotFound
from service.flows.warnings import (
    OPEN_STAGES,
    WarningDesk,
    draft_update,
    draft_warning,
    lift_warning,
    publish,
    withdraw_draft,
)
from service.warnings import service
from service.warnings.cap import CapInvalid, CapRefused
from service.warnings.cap_parse import parse_cap
from service.warnings.models import CapAlert, MsgType, Stage, WarningContent
from service.warnings.relay_rules import (
    RelayRule,
    RelaySource,
    Unmappable,
    content_from,
    lift_reason,
    narrowed,
)
from service.warnings.relay_tables import RelayedWarningRow
from service.warnings.tables import WarningRow
from service.warnings.workflow import after_submit

log = structlog.get_logger(__name__)

POST, POLL = "post", "poll"


class RelayOutcome(BaseModel):
    """What became of one upstream message."""

    source: str
    sender: str
    identifier: str
    msg_type: str
    # drafted, relayed, updated, lifted, withdrawn, ignored; repeat: taken in before
    outcome: str
    rule: str | None = None
    warning_id: int | None = None
    detail: str = ""


def drafter_for(source: RelaySource, unit: str) -> Principal:
    return Principal(f"relay:{source.name}", (Grant(Role.warning_drafter, unit, False),))


def lifter_for(source: RelaySource, unit: str) -> Principal:
    # Lifting what the upstream itself lifted: a signer's grant on that unit only.
    return Principal(f"relay:{source.name}", (Grant(Role.warning_approver, unit, False),))


def signer_for(rule: RelayRule) -> str:
    return f"relay-rule:{rule.name}"


def source_named(desk: WarningDesk, name: str) -> RelaySource:
    source = desk.rules.relay.source(name)
    if source is None:
        raise NotFound("relay source", name)
    return source


def read_upstream(data: bytes, source: RelaySource) -> CapAlert:
    """The upstream document, parsed safely and checked to come from the source's sender.
    CapRefused (DTD, entities, too big), CapInvalid (schema) or Forbidden (another
    sender) are logged with the source and raised; nothing is stored."""
    try:
        alert = parse_cap(data)
    except (CapRefused, CapInvalid) as exc:
        log.warning("relay.refused", source=source.name, reason=str(exc), size=len(data))
        raise
    if alert.sender != source.sender:
        log.warning(
            "relay.wrong_sender", source=source.name, sender=alert.sender, expected=source.sender
        )
        raise Forbidden(
            f"relay source {source.name} takes CAP from {source.sender}, not {alert.sender}"
        )
    return alert


async def ingest_cap(
    session: AsyncSession,
    desk: WarningDesk,
    data: bytes,
    *,
    source_name: str,
    via: str = POST,
    url: str | None = None,
) -> RelayOutcome:
    """An upstream CAP document taken in, in the caller's transaction (run it through
    `flows.warnings.run_step`, which holds the warning gate)."""
    source = source_named(desk, source_name)
    alert = read_upstream(data, source)
    return await ingest_alert(session, desk, alert, source=source, via=via, url=url)


async def ingest_alert(
    session: AsyncSession,
    desk: WarningDesk,
    alert: CapAlert,
    *,
    source: RelaySource,
    via: str = POST,
    url: str | None = None,
) -> RelayOutcome:
    """A parsed upstream message (`read_upstream`): recorded once, then drafted, relayed,
    applied as an update or a lift, or ignored with the reason."""
    if alert.sender != source.sender:
        raise Forbidden(f"relay source {source.name} takes CAP from {source.sender} only")
    record = RelayedWarningRow(
        source=source.name,
        sender=alert.sender,
        identifier=alert.identifier,
        sent=alert.sent,
        msg_type=alert.msg_type.value,
        status=alert.status.value,
        received_at=desk.now,
        via=via,
        url=url,
        outcome="ignored",
        detail="",
    )
    if not await _claim(session, record):
        return _outcome(record, "repeat", detail="taken in before: nothing done")
    earlier = await _referenced(session, source, alert)
    if alert.msg_type is MsgType.Alert or (alert.msg_type is MsgType.Update and earlier is None):
        await _new(session, desk, alert, source, record)
    elif earlier is None:
        record.detail = "it cancels nothing relayed here"
    elif alert.msg_type is MsgType.Update:
        await _update(session, desk, alert, source, record, earlier)
    else:
        await _cancel(session, desk, alert, source, record, earlier)
    await session.flush()
    log.info(
        "relay.taken_in",
        source=source.name,
        identifier=alert.identifier,
        msg_type=alert.msg_type.value,
        outcome=record.outcome,
        rule=record.rule,
        warning_id=record.warning_id,
        detail=record.detail,
    )
    return _outcome(record, record.outcome, detail=record.detail)


def _outcome(record: RelayedWarningRow, outcome: str, *, detail: str) -> RelayOutcome:
    return RelayOutcome(
        source=record.source,
        sender=record.sender,
        identifier=record.identifier,
        msg_type=record.msg_type,
        outcome=outcome,
        rule=record.rule if outcome != "repeat" else None,
        warning_id=record.warning_id if outcome != "repeat" else None,
        detail=detail,
    )


async def _claim(session: AsyncSession, record: RelayedWarningRow) -> bool:
    """Record the message, or False if (sender, identifier) was taken in before (also by
    another process at the same moment: the unique key decides)."""
    seen = await session.scalar(
        select(RelayedWarningRow.id).where(
            RelayedWarningRow.sender == record.sender,
            RelayedWarningRow.identifier == record.identifier,
        )
    )
    if seen is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def _referenced(
    session: AsyncSession, source: RelaySource, alert: CapAlert
) -> RelayedWarningRow | None:
    """The latest message of this source that `alert` references and that became one of
    dutyd's; only the same sender's references count (no source reaches another's)."""
    identifiers = [r.identifier for r in alert.references if r.sender == alert.sender]
    if not identifiers:
        return None
    return await session.scalar(
        select(RelayedWarningRow)
        .where(
            RelayedWarningRow.source == source.name,
            RelayedWarningRow.sender == alert.sender,
            RelayedWarningRow.identifier.in_(identifiers),
            RelayedWarningRow.warning_id.is_not(None),
        )
        .order_by(RelayedWarningRow.id.desc())
        .limit(1)
    )


def _upstream(alert: CapAlert, source: RelaySource, rule: RelayRule | None) -> dict[str, Any]:
    data = {"source": source.name, "sender": alert.sender, "identifier": alert.identifier}
    return {**data, "rule": rule.name} if rule is not None else data


async def _release(
    session: AsyncSession,
    desk: WarningDesk,
    row: WarningRow,
    *,
    alert: CapAlert,
    source: RelaySource,
    rule: RelayRule,
) -> None:
    """As the rule says: published at once (relayed), or submitted for review."""
    upstream = f"{alert.sender} {alert.identifier}"
    data = _upstream(alert, source, rule)
    if rule.action == "relay":
        signer = signer_for(rule)
        comment = f"relayed from {upstream} by rule {rule.name}"
        service.add_step(
            session, row, "relayed", actor=signer, now=desk.now, comment=comment, data=data
        )
        await publish(session, desk, row, signer=signer)
        return
    drafter = drafter_for(source, row.unit_id).name
    comment = f"drafted from {upstream} by rule {rule.name}"
    service.add_step(
        session, row, "received", actor=drafter, now=desk.now, comment=comment, data=data
    )
    service.move(row, after_submit(desk.rules, Level(row.level)), desk.now)
    row.submitted_at = desk.now
    service.add_step(session, row, "submitted", actor=drafter, now=desk.now)


def _mapped(desk: WarningDesk, alert: CapAlert, record: RelayedWarningRow) -> WarningContent | None:
    try:
        return content_from(alert, desk.rules.relay, now=desk.now)
    except Unmappable as exc:
        record.detail = f"not relayed: {exc.reason}"
        return None


async def _new(
    session: AsyncSession,
    desk: WarningDesk,
    alert: CapAlert,
    source: RelaySource,
    record: RelayedWarningRow,
) -> None:
    content = _mapped(desk, alert, record)
    if content is None:
        return
    rule = desk.rules.relay.first_match(source.name, content)
    if rule is None:
        codes = ", ".join(c for a in content.areas for c in a.codes) or "no codes"
        record.detail = (
            f"no relay rule matches: {content.hazard}, level {content.level.value}, "
            f"{content.status.value}, {codes}"
        )
        return
    row = await draft_warning(
        session,
        desk,
        narrowed(content, rule),
        unit_id=rule.unit,
        actor=drafter_for(source, rule.unit),
    )
    await _release(session, desk, row, alert=alert, source=source, rule=rule)
    record.outcome = "relayed" if rule.action == "relay" else "drafted"
    record.rule, record.warning_id = rule.name, row.id


async def _update(
    session: AsyncSession,
    desk: WarningDesk,
    alert: CapAlert,
    source: RelaySource,
    record: RelayedWarningRow,
    earlier: RelayedWarningRow,
) -> None:
    content = _mapped(desk, alert, record)
    if content is None:
        return
    assert earlier.warning_id is not None
    ours = await service.get_warning(session, earlier.warning_id)
    chain = await service.chain_of(session, service.root_id_of(ours), lock=True)
    unit = chain[0].unit_id
    rule = desk.rules.relay.rule_for_update(source.name, content, unit, earlier.rule)
    if rule is None:
        record.detail = f"the rule {earlier.rule} that took warning {chain[0].id} in is gone"
        return
    content = narrowed(content, rule)
    drafter = drafter_for(source, unit)
    live = [r for r in chain if r.stage == Stage.published.value]
    still_open = [r for r in chain if r.stage in OPEN_STAGES and r.drafted_by == drafter.name]
    if live and live[-1].msg_type == MsgType.Cancel.value:
        record.detail = f"warning {chain[0].id} is lifted already"
        return
    if still_open:
        # Not out yet: the relay's own draft takes the new content (its reviews start over).
        row = still_open[-1]
        service.set_content(row, content, desk.now)
        service.add_step(
            session,
            row,
            "edited",
            actor=drafter.name,
            now=desk.now,
            comment=f"updated from {alert.sender} {alert.identifier}",
            data=_upstream(alert, source, rule),
        )
    elif live:
        row = await draft_update(session, desk, live[-1].id, content, drafter)
    else:
        record.detail = f"warning {chain[0].id} is no longer in force"
        return
    await _release(session, desk, row, alert=alert, source=source, rule=rule)
    record.outcome = "updated"
    record.rule, record.warning_id = rule.name, row.id


async def _cancel(
    session: AsyncSession,
    desk: WarningDesk,
    alert: CapAlert,
    source: RelaySource,
    record: RelayedWarningRow,
    earlier: RelayedWarningRow,
) -> None:
    assert earlier.warning_id is not None
    ours = await service.get_warning(session, earlier.warning_id)
    chain = await service.chain_of(session, service.root_id_of(ours), lock=True)
    lifter = lifter_for(source, chain[0].unit_id)
    live = [r for r in chain if r.stage == Stage.published.value]
    reason = lift_reason(alert)
    data = _upstream(alert, source, None)
    comment = f"relayed from {alert.sender} {alert.identifier}"
    record.rule = earlier.rule
    if live and live[-1].msg_type != MsgType.Cancel.value:
        row = await lift_warning(session, desk, live[-1].id, lifter, reason=reason)
        service.add_step(
            session, row, "relayed", actor=lifter.name, now=desk.now, comment=comment, data=data
        )
        record.outcome, record.warning_id = "lifted", row.id
        return
    still_open = [r for r in chain if r.stage in OPEN_STAGES]
    if not still_open:
        record.detail = f"nothing of warning {chain[0].id} is in force or in the works"
        return
    for row in still_open:
        await withdraw_draft(session, desk, row.id, lifter, reason=f"{comment}: {reason}")
    record.outcome, record.warning_id = "withdrawn", still_open[-1].id
