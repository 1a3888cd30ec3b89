"""What no row change shows, put on the record: the settings a daemon starts with (when
they differ from the last recorded), and each reload of the plans, by whom."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.capture import record
from service.audit.context import Actor
from service.audit.tables import AuditRow
from service.config import SECRET_SETTINGS, Settings

SETTINGS_ACTION = "settings in force"


def settings_values(settings: Settings) -> dict[str, Any]:
    """Every setting as JSON; a secret only as whether it is set."""
    values = settings.model_dump(mode="json", exclude=set(SECRET_SETTINGS))
    for name in SECRET_SETTINGS:
        values[name] = "(set)" if getattr(settings, name, None) else None
    return values


async def record_settings(session: AsyncSession, settings: Settings, actor: Actor) -> bool:
    """An entry with the settings in force and what changed since the last one; none if
    nothing did. True if written."""
    values = settings_values(settings)
    last = await session.scalar(
        select(AuditRow).where(AuditRow.action == SETTINGS_ACTION).order_by(AuditRow.id.desc())
    )
    before: dict[str, Any] = dict((last.changes or {}).get("values", {})) if last else {}
    if before == values:
        return False
    changed = {
        name: [before.get(name), values.get(name)]
        for name in sorted(set(before) | set(values))
        if before.get(name) != values.get(name)
    }
    record(
        session,
        actor,
        SETTINGS_ACTION,
        subjects=["settings"],
        changes={"changed": changed if last else {}, "values": values},
    )
    return True


def record_reload(
    session: AsyncSession,
    actor: Actor,
    *,
    applied: bool,
    before: str,
    after: str,
    problems: list[str],
) -> None:
    record(
        session,
        actor,
        "plans reloaded" if applied else "plans reload refused",
        subjects=[f"plan_sets:{after}"],
        changes={"version": [before, after], "problems": problems[:50]},
    )
