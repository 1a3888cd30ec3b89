"""Who is on duty: every role of every unit at one instant."""

from __future__ import annotations

from datetime import datetime

from service.roster.roster import RoleHolder, Roster


def on_duty(roster: Roster, at: datetime, unit_id: str | None = None) -> list[RoleHolder]:
    units = [roster.unit(unit_id)] if unit_id else list(roster.units.values())
    holders: list[RoleHolder] = []
    for unit in units:
        for role in sorted(roster.role_names):
            holders.extend(roster.holders(role, unit.id, at))
    return holders
