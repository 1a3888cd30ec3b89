"""Roster edits as data: the roster document with an override, an approval or duty table
lines applied. Storing one (checked against plans and rules) is `office.roster_edits`."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from service.errors import InvalidInput, NotFound
from service.roster.models import DutyAssignment, Override
from service.roster.roster import Roster


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
