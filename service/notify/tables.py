"""Outgoing messages: every one is a row written with the event that caused it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, literal, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base, BigId


class MessageState:
    pending = "pending"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    bundled = "bundled"  # went out inside a digest message (see digest_of)
    withdrawn = "withdrawn"  # never sent: what it said no longer applied (incident resolved)


def _partial(predicate: str) -> dict[str, object]:
    return {"postgresql_where": text(predicate), "sqlite_where": text(predicate)}


# The indexes are partial: a message's row is rewritten at each change of state, and each
# index a row version is in costs an entry, so an index leaves out the rows it never finds.
# (Written with OR: SQLite's planner matches an OR of the query's own terms, not an IN.)
IN_PLAY = "state = 'pending' OR state = 'sending'"


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # What is due or being sent: the only states the senders look for.
        Index("ix_messages_due", "state", "due_at", **_partial(IN_PLAY)),
        # The per-person rate limit counts what went to one person recently.
        Index(
            "ix_messages_recent",
            "person_id",
            "channel",
            "sent_at",
            **_partial("sent_at IS NOT NULL"),
        ),
        Index("ix_messages_digest_of", "digest_of", **_partial("digest_of IS NOT NULL")),
        # A broadcast's messages: its statistics, its withdrawal, who it reached.
        Index(
            "ix_messages_broadcast",
            "broadcast_id",
            "state",
            **_partial("broadcast_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    escalation_step_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_steps.id"))
    person_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.pending)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    transport: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failover_of: Mapped[int | None] = mapped_column(BigId)
    digest_of: Mapped[int | None] = mapped_column(BigId)
    # One message to many (a public warning): the broadcast it belongs to and which of
    # its recipients it is for. The outbox knows no more of broadcasts than that a gate
    # may stop one (`transport.BroadcastGate`).
    broadcast_id: Mapped[int | None]
    recipient_id: Mapped[int | None]
    updated_at: Mapped[datetime]


class MessageEventRow(Base):
    """Every change of a message's state, with its time and why: what became of it."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id"), index=True)
    at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


def state_is(state: str) -> ColumnElement[bool]:
    """`state = '<state>'` with the value in the SQL text, not a parameter, so that the
    planner (PostgreSQL's generic plans too) sees that the partial indexes apply."""
    return MessageRow.state == literal(state, literal_execute=True)


# What the outbox reads of each message: plain rows, not ORM objects, so that a batch
# costs a few statements and no unit of work.
CLAIM_COLUMNS = (
    MessageRow.id,
    MessageRow.incident_id,
    MessageRow.person_id,
    MessageRow.channel,
    MessageRow.address,
    MessageRow.subject,
    MessageRow.body,
    MessageRow.state,
    MessageRow.attempts,
    MessageRow.created_at,
    MessageRow.claimed_by,
    MessageRow.provider_id,
    MessageRow.broadcast_id,
)
