"""Storing a roster edit: checked whole against the plans and duty rules in force, stored
as a new version, put in force in memory only once that version has committed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput
from service.roster import store
from service.roster.loader import roster_from_data
from service.runtime import Runtime
from service.yamlfile import Document


async def store_roster(
    session: AsyncSession,
    in_force: Runtime,
    data: Any,
    *,
    actor: str,
    comment: str,
    now: datetime,
    plans_dir: Path,
    rules_file: Path,
    source: str = "roster",
) -> Runtime:
    """Store a new roster if it is valid and the plans and rules still hold against it;
    returns what will be in force once the caller's transaction commits.

    Raises RosterInvalid or PlanInvalid (a plan naming a role or person the new roster
    lacks) with every problem; nothing is stored then.
    """
    roster = roster_from_data(Document(path=Path(source), data=data))
    fresh = Runtime.build(roster, plans_dir=plans_dir, rules_file=rules_file)
    newest = await store.newest_version_id(session)
    if newest != in_force.roster_version:
        # The edit was built on the roster this process knows; another process has since
        # stored a newer one, which this edit would silently undo.
        raise InvalidInput(
            f"the roster changed meanwhile (version {newest}, this edit was made on version "
            f"{in_force.roster_version}); fetch it again and repeat the edit"
        )
    row = await store.save_version(session, roster, actor=actor, comment=comment, now=now)
    return fresh.with_version(row.id)


async def version_to_restore(session: AsyncSession, in_force: Runtime, version_id: int) -> Any:
    """An earlier version's roster, to be stored again as a new version (the ones after it
    stay listed) and checked like any edit: as stored, so that a field the model no longer
    has is listed as a problem, not a crash."""
    row = await store.get_version(session, version_id)
    if version_id == in_force.roster_version:
        raise InvalidInput(f"roster version {version_id} is the one in force")
    return json.loads(row.content)
