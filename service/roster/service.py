"""Roster edits: each one is checked against the plans and rules, then stored as a version."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput, NotFound
from service.roster import store
from service.roster.loader import roster_from_data
from service.roster.models import DutyAssignment, Override
from service.roster.roster import Roster
from service.runtime import Runtime
from service.yamlfile import Document


async def replace_roster(
    session: AsyncSession,
    runtime: Runtime,
    data: Any,
    *,
    actor: str,
    comment: str,
    now: datetime,
    plans_dir: Path,
    rules_file: Path,
    source: str = "roster",
) -> int:
    """Store a new roster if it is valid and the plans and rules still hold against it.

    Raises RosterInvalid or PlanInvalid (a plan naming a role or person the new roster
    lacks) with every problem; nothing is stored then.
    """
    roster = roster_from_data(Document(path=Path(source), data=data))
    fresh = Runtime.build(roster, plans_dir=plans_dir, rules_file=rules_file)
    newest = await store.newest_version_id(session)
    if newest != runtime.roster_version:
        # The edit was built on the roster this process knows; another process has since
        # stored a newer one, which this edit would silently undo.
        raise InvalidInput(
            f"the roster changed meanwhile (version {newest}, this edit was made on version "
            f"{runtime.roster_version}); fetch it again and repeat the edit"
        )
    row = await store.save_version(session, roster, actor=actor, comment=comment, now=now)
    runtime.adopt(fresh)
    runtime.roster_version = row.id
    return row.id


async def restore_version(session: AsyncSession, runtime: Runtime, version_id: int) -> Any:
    """An earlier version's roster, to be stored again as a new version (the ones after it
    stay listed) and checked like any edit: as stored, so that a field the model no longer
    has is listed as a problem, not a crash."""
    row = await store.get_version(session, version_id)
    if version_id == runtime.roster_version:
        raise InvalidInput(f"roster version {version_id} is the one in force")
    return json.loads(row.content)


def _document_data(roster: Roster) -> dict[str, Any]:
    return roster.document.model_dump(mode="json")


def with_override(roster: Roster, override: Override) -> dict[str, Any]:
    data = _document_data(roster)
    data["overrides"].append(override.model_dump(mode="json"))
    return data


def with_approval(
    roster: Roster, override_id: str, *, approver: str, now: datetime
) -> dict[str, Any]:
    data = _document_data(roster)
    for item in data["overrides"]:
        if item["id"] == override_id:
            if item.get("approved_by"):
                raise InvalidInput(
                    f"override {override_id} was already approved by {item['approved_by']}"
                )
            item["approved_by"], item["approved_at"] = approver, now.isoformat()
            return data
    raise NotFound("override", override_id)


def with_duty_table(roster: Roster, lines: list[DutyAssignment]) -> dict[str, Any]:
    """Imported lines replace existing lines for the same unit, role and date."""
    replaced = {(line.unit, line.role, line.date) for line in lines}
    data = _document_data(roster)
    data["duty_table"] = [
        item
        for item, line in zip(data["duty_table"], roster.document.duty_table, strict=True)
        if (line.unit, line.role, line.date) not in replaced
    ] + [line.model_dump(mode="json") for line in lines]
    return data


def new_override_id() -> str:
    return "ovr-" + secrets.token_hex(4)
