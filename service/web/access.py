"""Which action of the access policy each console route is, and on which unit: the one
check every console request passes before its handler runs (the API's twin is
`service.api.access`). Reading a page needs `view`; the unit is the incident's for a
route about an incident, the warning's for one about a warning, or the form's `unit`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import select

from service.audit.context import Actor, set_actor
from service.auth.policy import Action
from service.drills.tables import DrillRow
from service.incidents.tables import IncidentRow
from service.instructions.tables import AssignmentRow
from service.office.tables import HandoverRow
from service.warnings.tables import WarningRow
from service.web.context import ConsoleForbidden, DutydDep, ViewerDep, client_address
from service.web.forms import read_form

INCIDENT = "/console/incidents/{incident_id:int}"
WARNING = "/console/warnings/{warning_id:int}"


def _incident_action(request: Request, form: dict[str, str]) -> list[Action]:
    return [
        Action.replan if request.path_params.get("action") == "replan" else Action.work_incident
    ]


def _override(_: Request, form: dict[str, str]) -> list[Action]:
    # Approving at once is approving too.
    wanted = [Action.request_override]
    return [*wanted, Action.approve_override] if form.get("approve") == "yes" else wanted


Rule = Callable[[Request, dict[str, str]], list[Action]]
CHANGES: dict[str, Rule] = {
    "/console/incidents/new": lambda _r, _f: [Action.report_incident],
    f"{INCIDENT}/warning": lambda _r, _f: [Action.draft_warning],
    f"{INCIDENT}/{{action}}": _incident_action,
    "/console/roster/overrides": _override,
    "/console/roster/overrides/{override_id}/approve": lambda _r, _f: [Action.approve_override],
    "/console/handover": lambda _r, _f: [Action.handover],
    "/console/handover/{handover_id:int}/confirm": lambda _r, _f: [Action.handover],
    # Public warnings: the preview stores nothing, and is a drafter's as the form is.
    "/console/warnings/new": lambda _r, _f: [Action.draft_warning],
    "/console/warnings/preview": lambda _r, _f: [Action.draft_warning],
    **{
        f"{WARNING}/{verb}": lambda _r, _f: [Action.draft_warning]
        for verb in ("edit", "update", "submit", "withdraw")
    },
    f"{WARNING}/review": lambda _r, _f: [Action.review_warning],
    f"{WARNING}/review-after": lambda _r, _f: [Action.review_warning],
    f"{WARNING}/sign": lambda _r, _f: [Action.sign_warning],
    f"{WARNING}/publish-now": lambda _r, _f: [Action.sign_warning],
    f"{WARNING}/lift": lambda _r, _f: [Action.lift_warning],
    "/console/instructions/{incident_id:int}": lambda _r, _f: [Action.give_instruction],
    # The unit answers (the desk's work); the leader accepts or sends back.
    "/console/assignments/{assignment_id:int}/answer": lambda _r, _f: [Action.work_incident],
    "/console/assignments/{assignment_id:int}/decide": lambda _r, _f: [Action.give_instruction],
    "/console/intake/drafts/{report_id:int}/confirm": lambda _r, _f: [Action.report_incident],
    "/console/intake/drafts/{report_id:int}/dismiss": lambda _r, _f: [Action.report_incident],
    # Anyone asked answers their own spot-check; the check names whose it is.
    "/console/spot-checks/answer": lambda _r, _f: [Action.view],
    "/console/drills": lambda _r, _f: [Action.run_drill],
    "/console/drills/{drill_id:int}/end": lambda _r, _f: [Action.run_drill],
}


async def _unit(request: Request, dutyd: DutydDep, form: dict[str, str]) -> tuple[str | None, bool]:
    """The unit a request is about, and whether it is about one at all. What the path
    names (an incident, a warning, an override, a handover) decides its unit, never a
    form's field; a unit named but unknown is None, which only a grant on every unit
    passes."""
    params = request.path_params
    roster = dutyd.runtime.roster
    if "incident_id" in params:
        async with dutyd.reads() as session:
            unit = await session.scalar(
                select(IncidentRow.unit_id).where(IncidentRow.id == int(params["incident_id"]))
            )
        return unit, True
    if "warning_id" in params:
        async with dutyd.reads() as session:
            unit = await session.scalar(
                select(WarningRow.unit_id).where(WarningRow.id == int(params["warning_id"]))
            )
        return unit, True
    if "override_id" in params:
        found = [o for o in roster.document.overrides if o.id == params["override_id"]]
        return (found[0].unit if found else None), True
    if "assignment_id" in params:
        async with dutyd.reads() as session:
            unit = await session.scalar(
                select(AssignmentRow.unit_id).where(
                    AssignmentRow.id == int(params["assignment_id"])
                )
            )
        return unit, True
    if "drill_id" in params:
        async with dutyd.reads() as session:
            unit = await session.scalar(
                select(DrillRow.unit_id).where(DrillRow.id == int(params["drill_id"]))
            )
        return unit, True
    if "handover_id" in params:
        async with dutyd.reads() as session:
            unit = await session.scalar(
                select(HandoverRow.unit_id).where(HandoverRow.id == int(params["handover_id"]))
            )
        return unit, True
    named = form.get("unit") or request.query_params.get("unit")
    if named is None:
        return None, False
    return (named if named in roster.units else None), True


async def console_access(request: Request, dutyd: DutydDep, viewer: ViewerDep) -> None:
    """Refuse (403) what the viewer's roles do not allow on the unit concerned."""
    template = getattr(request.scope.get("route"), "path", request.url.path)
    form: dict[str, str] = {}
    if request.method == "POST":
        form = await read_form(request)
        rule = CHANGES.get(template)
        if rule is None:
            raise ConsoleForbidden(f"no access rule for POST {template}: refused")
        actions = rule(request, form)
    else:
        actions = [Action.view]
    roster = dutyd.runtime.roster
    set_actor(
        Actor(
            viewer.person_id,
            "person",
            client_address(request),
            f"{request.method} {template}",
            dutyd.clock.now,
        )
    )
    unit, about_a_unit = await _unit(request, dutyd, form)
    for action in actions:
        if about_a_unit:
            viewer.authorize(action, unit, roster)
        elif not any(viewer.may(action, u, roster) for u in roster.units):
            # A page of no one unit (the board, the plans): a grant of the role anywhere.
            viewer.authorize(action, None, roster)
