"""The audit log. Entries are appended in the transaction of the change they record, then
sealed into the hash chain in the order they are sealed (`seq`); nothing edits them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index(
            "ix_audit_log_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(160), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # person, token, cli, system
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(160))
    # What was changed: "incidents:12", "warnings:3", ...; and how, per row.
    subjects: Mapped[list[Any]]
    changes: Mapped[dict[str, Any]]
    seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None]
