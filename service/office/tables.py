"""The duty office's own records: shift handovers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class HandoverRow(Base):
    """交接班: the outgoing officer's open incidents and pending reports, confirmed by the next."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    outgoing: Mapped[str] = mapped_column(String(64))
    incoming: Mapped[str | None] = mapped_column(String(64))
    open_incidents: Mapped[list[Any]] = mapped_column(default=list)
    pending_reports: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
