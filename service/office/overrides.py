"""Overrides (调班/代班): one person covers another's shift, whole or part. Recorded by
anyone on duty; in force once approved, and only a leader or an admin may approve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from service.auth.tokens import Role
from service.errors import Forbidden, invalid_from
from service.roster.edits import new_override_id, with_approval, with_override
from service.roster.models import Override
from service.roster.roster import Roster

APPROVER_ROLES = (Role.leader, Role.admin)


def check_may_approve(actor: str, role: Role) -> None:
    if role not in APPROVER_ROLES:
        raise Forbidden(
            f"{actor} has role {role.value}; approving an override needs one of "
            + ", ".join(r.value for r in APPROVER_ROLES)
        )


def request_override(
    roster: Roster,
    *,
    unit: str,
    role: str,
    start: datetime,
    end: datetime,
    person: str,
    replaces: str | None,
    reason: str,
    requested_by: str,
    approved_by: str | None,
    actor: str,
    actor_role: Role,
    now: datetime,
) -> tuple[Override, dict[str, Any]]:
    """The override and the roster data with it added; approved at once if `approved_by`
    is given (which the actor's role must allow). Bad values are InvalidInput."""
    if approved_by is not None:
        check_may_approve(actor, actor_role)
    try:
        override = Override(
            id=new_override_id(),
            unit=unit,
            role=role,  # type: ignore[arg-type]
            start=start,
            end=end,
            person=person,
            replaces=replaces,
            reason=reason,
            requested_by=requested_by,
            approved_by=approved_by,
            approved_at=now if approved_by else None,
        )
    except ValidationError as exc:
        raise invalid_from(exc, "override") from None
    return override, with_override(roster, override)


def approve_override(
    roster: Roster, override_id: str, *, approver: str, approver_role: Role, now: datetime
) -> dict[str, Any]:
    """The roster data with the pending override approved."""
    check_may_approve(approver, approver_role)
    return with_approval(roster, override_id, approver=approver, now=now)
