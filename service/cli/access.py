"""Which action of the access policy each command is, and on which unit: the CLI's twin
of `service.api.access` and `service.web.access`, asking the same `authorize`.

Who acts is named with `dutyd --as PERSON` (or DUTYD_AS): that person's account and
grants decide, exactly as in the console. Without it the command acts as the machine's
operator, who holds the database itself; `cli_identity: required` refuses that, so that
every change on a shared server carries a person's name.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer import Context

# Typer carries its own copy of click; the current command's context is found there.
from typer._click.globals import get_current_context

from service.auth.accounts import find_account, principal_for_account
from service.auth.policy import Action, Principal, authorize
from service.drills.tables import DrillRow
from service.errors import Forbidden, NotFound
from service.incidents.tables import IncidentRow
from service.office.tables import HandoverRow
from service.roster.roster import Roster
from service.warnings.tables import WarningRow

# Commands that keep the machine itself (start it, lay out its database, show its
# settings, check plan files on disk) rather than the records of the duty office.
MACHINE = "machine"
COMMAND_ACTIONS: dict[str, Action | str] = {
    "serve": MACHINE,
    "db upgrade": MACHINE,
    "db init": MACHINE,
    "config show": MACHINE,
    "config table": MACHINE,
    "plans check": MACHINE,
    "intake check": MACHINE,
    "intake dry-run": MACHINE,
    "intake sources": Action.view,
    # The record of who did what: for those who keep accounts (the one who verifies it
    # and reads it on the machine itself acts as its operator).
    "audit verify": Action.manage_accounts,
    "audit show": Action.manage_accounts,
    "plans show": Action.view,
    "incident report": Action.report_incident,
    **{
        f"incident {verb}": Action.work_incident
        for verb in ("casualties", "ack", "status", "level", "escalate")
    },
    "incident replan": Action.replan,
    "incident show": Action.view,
    "incident list": Action.view,
    "report submit": Action.work_incident,
    "report overdue": Action.view,
    "report stats": Action.view,
    "roster now": Action.view,
    "roster check": Action.view,
    "roster export": Action.view,
    "roster versions": Action.view,
    "roster import": Action.edit_roster,
    "roster restore": Action.edit_roster,
    "roster override": Action.request_override,
    "roster approve": Action.approve_override,
    "roster feed": Action.manage_feeds,
    "roster feed-revoke": Action.manage_feeds,
    "handover start": Action.handover,
    "handover confirm": Action.handover,
    "warning draft": Action.draft_warning,
    **{f"warning {verb}": Action.draft_warning for verb in ("submit", "update", "withdraw")},
    "warning review": Action.review_warning,
    "warning review-after": Action.review_warning,
    "warning sign": Action.sign_warning,
    "warning publish-now": Action.sign_warning,
    "warning lift": Action.lift_warning,
    "warning list": Action.view,
    "warning show": Action.view,
    "statistics monthly": Action.view,
    "drill start": Action.run_drill,
    "drill end": Action.run_drill,
    "drill list": Action.view,
    "drill report": Action.view,
    "recipients import": Action.manage_recipients,
    "recipients opt-out": Action.manage_recipients,
    **{f"token {verb}": Action.manage_accounts for verb in ("create", "list", "revoke")},
    **{
        f"user {verb}": Action.manage_accounts
        for verb in (
            "invite",
            "create-admin",
            "set-password",
            "disable",
            "unlock",
            "grant",
            "revoke",
            "list",
        )
    },
}


def command_name(context: Context) -> str:
    """`incident ack` for `dutyd incident ack 3`."""
    return context.command_path.split(" ", 1)[1] if " " in context.command_path else ""


def acting_person(context: Context | None = None) -> str | None:
    """The person `--as` names, if any."""
    current = context or get_current_context(silent=True)
    if current is None:
        return None
    root = current.find_root()
    return root.obj.get("as") if isinstance(root.obj, dict) else None


async def unit_of_command(
    session: AsyncSession, roster: Roster, params: dict[str, object]
) -> str | None:
    """The unit a command is about: what its incident, override or handover belongs to,
    else the unit it names, else the unit of the person it names (an account, a feed).
    None (the whole city: the roster, tokens) passes only a grant on every unit."""
    if params.get("incident_id") is not None:
        unit = await session.scalar(
            select(IncidentRow.unit_id).where(IncidentRow.id == params["incident_id"])
        )
        if unit is None:
            raise NotFound("incident", params["incident_id"])
        return unit
    if params.get("override_id") is not None:
        found = [o for o in roster.document.overrides if o.id == params["override_id"]]
        if not found:
            raise NotFound("override", params["override_id"])
        return found[0].unit
    if params.get("warning_id") is not None:
        unit = await session.scalar(
            select(WarningRow.unit_id).where(WarningRow.id == params["warning_id"])
        )
        if unit is None:
            raise NotFound("warning", params["warning_id"])
        return unit
    if params.get("drill_id") is not None:
        unit = await session.scalar(
            select(DrillRow.unit_id).where(DrillRow.id == params["drill_id"])
        )
        if unit is None:
            raise NotFound("drill", params["drill_id"])
        return unit
    if params.get("handover_id") is not None:
        return await session.scalar(
            select(HandoverRow.unit_id).where(HandoverRow.id == params["handover_id"])
        )
    unit = params.get("unit")
    if isinstance(unit, list | tuple) and len(unit) == 1:
        unit = unit[0]  # one unit of a repeatable --unit; several need the whole city
    if isinstance(unit, str):
        return unit
    person = params.get("person")
    if isinstance(person, str) and person in roster.people:
        return roster.people[person].unit
    return None


def actions_of(name: str, params: dict[str, object]) -> list[Action]:
    action = COMMAND_ACTIONS.get(name)
    if action is None:
        raise Forbidden(f"no access rule for the command {name!r}: refused")
    if action == MACHINE:
        return []
    wanted = [Action(action)]
    if name == "roster override" and params.get("approved_by"):
        wanted.append(Action.approve_override)  # approving at once is approving too
    return wanted


async def principal_named(session: AsyncSession, person_id: str) -> Principal:
    account = await find_account(session, person_id)
    if account is None:
        raise Forbidden(f"--as {person_id}: no account for this person (dutyd user invite)")
    if account.disabled_at is not None:
        raise Forbidden(f"--as {person_id}: the account is disabled")
    return await principal_for_account(session, account)


async def check_command(
    session: AsyncSession, roster: Roster, context: Context, *, identity_required: bool
) -> None:
    """Refuse the command with Forbidden unless the person it acts as may do it."""
    name = command_name(context)
    actions = actions_of(name, context.params)
    person = acting_person(context)
    if not actions:
        return
    if person is None:
        if identity_required:
            raise Forbidden(
                f"{name}: name who acts with `dutyd --as PERSON` (cli_identity is required)"
            )
        return
    principal = await principal_named(session, person)
    unit = await unit_of_command(session, roster, context.params)
    for action in actions:
        authorize(principal, action, unit, roster.parent_of)
