"""Delivery reports from providers (Twilio's status callbacks): a message delivered, or
failed after it was handed over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.notify.events import add_event
from service.notify.tables import MessageRow, MessageState

DELIVERED = {"delivered", "completed", "read"}
FAILED = {"undelivered", "failed", "busy", "no-answer", "canceled"}


async def record_status(
    session: AsyncSession,
    *,
    provider_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
    message_id: int | None = None,
) -> MessageRow | None:
    """Apply a provider's delivery report; returns the message if it has now failed.

    The report may come before the sender has recorded the provider's id (it is still
    `sending`): then `message_id`, from the callback's address, finds it, and the id is
    recorded here; the sender keeps the state this report set.
    """
    message: MessageRow | None = None
    if message_id is not None and provider_id:
        # By id first: the sender may be recording this very row; once it commits, the
        # row carries the provider's id (and the lookup by id waited for that).
        by_id = await session.scalar(
            select(MessageRow).where(MessageRow.id == message_id).with_for_update()
        )
        if by_id is not None and by_id.provider_id == provider_id:
            message = by_id
        elif by_id is not None and by_id.provider_id is None:
            if by_id.state == MessageState.sending:
                by_id.provider_id = provider_id
                message = by_id
    if message is None:
        message = await session.scalar(
            select(MessageRow).where(MessageRow.provider_id == provider_id).with_for_update()
        )
    if message is None:
        return None
    detail = f"provider status {status}" + (f" (error {error_code})" if error_code else "")
    if status in DELIVERED and message.state != MessageState.delivered:
        message.state, message.delivered_at, message.updated_at = MessageState.delivered, now, now
        add_event(session, message.id, MessageState.delivered, now, detail)
    elif status in FAILED and message.state not in (MessageState.failed, MessageState.delivered):
        message.state, message.error, message.updated_at = MessageState.failed, detail, now
        add_event(session, message.id, MessageState.failed, now, detail)
        return message
    return None
