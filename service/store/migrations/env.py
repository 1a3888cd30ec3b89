"""Alembic environment: runs on the connection dutyd hands over (see store/migrate.py)."""

from __future__ import annotations

from typing import Any

from alembic import context

from service.schema import Base
from service.store.base import UTCDateTime

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `dutyd db upgrade`, which supplies the connection")


def render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    """Write our UTC column type as a plain timezone-aware DateTime in migrations."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_item=render_item,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
