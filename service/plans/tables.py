"""Plan versions: the exact plan content each incident started under."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class PlanVersionRow(Base):
    __tablename__ = "plan_versions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(128), index=True)
    source_file: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime]


class PlanSetRow(Base):
    """A complete set of plans that loaded and was put in force, by the versions in it: the
    daemon falls back on the newest one when the plan files on disk do not load."""

    __tablename__ = "plan_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    plan_digests: Mapped[list[Any]] = mapped_column(default=list)
    loaded_at: Mapped[datetime]
