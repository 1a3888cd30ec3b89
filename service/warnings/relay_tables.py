"""The record of every CAP message taken in from upstream, and the warning message of
dutyd's it became (if any): a repeat is known by its (sender, identifier), an upstream
Update or Cancel finds dutyd's warning by the messages it references."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class RelayedWarningRow(Base):
    """One upstream message: what it was, how it came, what dutyd did with it."""

    __tablename__ = "relayed_warnings"
    __table_args__ = (UniqueConstraint("sender", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(String(160))
    identifier: Mapped[str] = mapped_column(String(160))
    sent: Mapped[datetime]
    msg_type: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(8))  # post | poll
    # Where a polled one was fetched from: the poll skips links it has read before.
    url: Mapped[str | None] = mapped_column(String(1000), index=True)
    # drafted, relayed, updated, lifted, withdrawn, ignored
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(64))
    # The message of dutyd's it made (an Alert, an Update, a Cancel), or edited.
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
