"""Hand one message to its transport, first asking the provider whether it already has
it when the message was left `sending` by a process that died."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import structlog

from service.errors import DeliveryFailed
from service.notify.transport import OutgoingMessage, Receipt, Transports

log = structlog.get_logger(__name__)


@dataclass
class Outcome:
    receipt: Receipt | None = None
    error: DeliveryFailed | None = None
    reconciled: bool = False
    unsure: bool = False  # the provider could not be asked whether it already has it


async def send(
    transports: Transports,
    message: OutgoingMessage,
    reconcile_since: datetime | None,
    others_sent: Collection[str] = (),
) -> Outcome:
    transport = transports.get(message.channel)
    if transport is None:
        return Outcome(error=DeliveryFailed(f"no transport for {message.channel}", retryable=False))
    try:
        if reconcile_since is not None:
            try:
                found = await transport.find_sent(message, reconcile_since, others_sent)
            except DeliveryFailed as exc:
                return Outcome(error=exc, unsure=True)
            if found is not None:
                return Outcome(receipt=found, reconciled=True)
        return Outcome(receipt=await transport.send(message))
    except DeliveryFailed as exc:
        return Outcome(error=exc)
    except Exception as exc:  # a transport bug must not lose the record of this message
        log.exception("transport.crashed", message_id=message.id, transport=transport.name)
        return Outcome(error=DeliveryFailed(f"transport error: {exc!r}", retryable=False))
