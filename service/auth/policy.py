"""Who may do what, and where: the one table of actions and the roles they need, and the
units a role granted on a unit reaches. The API, the console and the CLI all ask here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from service.auth.tokens import Role
from service.errors import Forbidden


class Action(StrEnum):
    view = "view"
    report_incident = "report_incident"
    work_incident = "work_incident"  # acknowledge, escalate, status, level, figures, reports
    replan = "replan"
    request_override = "request_override"
    approve_override = "approve_override"
    edit_roster = "edit_roster"
    edit_duty_table = "edit_duty_table"
    manage_feeds = "manage_feeds"
    handover = "handover"
    manage_silences = "manage_silences"
    reload_plans = "reload_plans"
    manage_accounts = "manage_accounts"
    draft_warning = "draft_warning"  # draft, edit, submit, update, withdraw a draft
    review_warning = "review_warning"  # review before sign-off, or after the green channel
    sign_warning = "sign_warning"  # sign off (publish), or the green channel
    lift_warning = "lift_warning"  # lift (解除) a published warning in one action
    manage_recipients = "manage_recipients"
    give_instruction = "give_instruction"  # a leader's instruction; accept or send back
    report_machine = "report_machine"  # a machine's alerts, check-ins and mail
    run_drill = "run_drill"  # start and end a drill of a plan


DESK = frozenset({Role.duty_officer, Role.leader, Role.admin})
# A `source` is a machine that reports and reads nothing back.
EVERYONE = frozenset(Role) - {Role.source}
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.view: EVERYONE,
    Action.report_incident: DESK,
    Action.work_incident: DESK,
    Action.replan: frozenset({Role.leader, Role.admin}),
    Action.request_override: frozenset(
        {Role.duty_officer, Role.leader, Role.roster_admin, Role.admin}
    ),
    Action.approve_override: frozenset({Role.leader, Role.admin}),
    Action.edit_roster: frozenset({Role.roster_admin, Role.admin}),
    Action.edit_duty_table: frozenset({Role.leader, Role.roster_admin, Role.admin}),
    Action.manage_feeds: frozenset({Role.leader, Role.roster_admin, Role.admin}),
    Action.handover: DESK,
    Action.manage_silences: frozenset({Role.leader, Role.admin}),
    Action.reload_plans: frozenset({Role.admin}),
    Action.manage_accounts: frozenset({Role.admin}),
    Action.draft_warning: frozenset({Role.warning_drafter, Role.warning_approver}),
    Action.review_warning: frozenset({Role.warning_approver}),
    Action.sign_warning: frozenset({Role.warning_approver}),
    # The workflow narrows this to the roles its rules name (warnings.yaml cancel_roles).
    Action.lift_warning: frozenset({Role.warning_approver, Role.leader}),
    Action.manage_recipients: frozenset({Role.warning_drafter, Role.warning_approver, Role.admin}),
    Action.give_instruction: frozenset({Role.leader, Role.admin}),
    Action.report_machine: frozenset({Role.source}),
    Action.run_drill: frozenset({Role.leader, Role.admin}),
}


@dataclass(frozen=True)
class Grant:
    """A role on a unit (None: every unit), with or without the units under it."""

    role: Role
    unit: str | None = None
    with_subunits: bool = True

    def covers(self, unit_id: str | None, parent_of: Callable[[str], str | None]) -> bool:
        if self.unit is None:
            return True
        if unit_id is None:
            return False  # a matter of no one unit is for those granted every unit
        current: str | None = unit_id
        while current is not None:
            if current == self.unit:
                return True
            if not self.with_subunits:
                return False
            current = parent_of(current)
        return False

    def describe(self) -> str:
        where = "every unit" if self.unit is None else self.unit
        if self.unit is not None and self.with_subunits:
            where += " and the units under it"
        return f"{self.role.value} on {where}"


@dataclass(frozen=True)
class Principal:
    """Who is acting: a person logged in to the console, or a machine's API token."""

    name: str
    grants: tuple[Grant, ...]
    person_id: str | None = None
    token_id: int | None = None

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.grants}

    def may(
        self, action: Action, unit_id: str | None, parent_of: Callable[[str], str | None]
    ) -> bool:
        return any(g.role in ALLOWED[action] and g.covers(unit_id, parent_of) for g in self.grants)

    def visible_units(
        self, units: Iterable[str], parent_of: Callable[[str], str | None]
    ) -> list[str]:
        return [u for u in units if self.may(Action.view, u, parent_of)]

    def sees_everything(self) -> bool:
        return any(g.unit is None for g in self.grants)


def authorize(
    principal: Principal,
    action: Action,
    unit_id: str | None,
    parent_of: Callable[[str], str | None],
) -> None:
    """Refuse with Forbidden, naming what is missing, unless `principal` may."""
    if principal.may(action, unit_id, parent_of):
        return
    needed = ", ".join(sorted(r.value for r in ALLOWED[action]))
    where = f" in {unit_id}" if unit_id else ""
    held = "; ".join(g.describe() for g in principal.grants) or "no role"
    raise Forbidden(
        f"{principal.name} may not {action.value}{where}: needs one of {needed} "
        f"there (holds {held})"
    )
