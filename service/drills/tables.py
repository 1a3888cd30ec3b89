"""A drill: which plan was run, at what level, for which unit, who played which role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class DrillRow(Base):
    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(4))
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    scenario: Mapped[str] = mapped_column(Text, default="")
    # role -> person id: who plays each role instead of whoever holds it on the roster.
    stand_ins: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Whether warnings raised in the drill may reach the public lists (else only the
    # recipients who take part in drills).
    public_warnings: Mapped[bool] = mapped_column(default=False)
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_by: Mapped[str | None] = mapped_column(String(128))
    ended_at: Mapped[datetime | None]
