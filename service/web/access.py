"""Which action of the access policy each console route is, and on which unit: the one
check every console request passes before its handler runs (the API's twin is
`service.api.access`). Reading a page needs `view`; the unit is the incident's for a
route about an incident, or the form's `unit`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import select

from service.auth.policy import Action
from service.incidents.tables import IncidentRow
from service.web.context import ConsoleForbidden, DutydDep, ViewerDep

INCIDENT = "/console/incidents/{incident_id}"


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
    f"{INCIDENT}/{{action}}": _incident_action,
    "/console/roster/overrides": _override,
    "/console/roster/overrides/{override_id}/approve": lambda _r, _f: [Action.approve_override],
    "/console/handover": lambda _r, _f: [Action.handover],
    "/console/handover/{handover_id}/confirm": lambda _r, _f: [Action.handover],
}


async def _unit(request: Request, dutyd: DutydDep, form: dict[str, str]) -> str | None:
    incident_id = request.path_params.get("incident_id")
    if incident_id is not None and str(incident_id).isdigit():
        async with dutyd.reads() as session:
            return await session.scalar(
                select(IncidentRow.unit_id).where(IncidentRow.id == int(incident_id))
            )
    unit = form.get("unit") or request.query_params.get("unit")
    return unit if unit in dutyd.runtime.roster.units else None


async def console_access(request: Request, dutyd: DutydDep, viewer: ViewerDep) -> None:
    """Refuse (403) what the viewer's roles do not allow on the unit concerned."""
    template = getattr(request.scope.get("route"), "path", request.url.path)
    form: dict[str, str] = {}
    if request.method == "POST":
        parsed = await request.form()  # kept by the request: the handler reads it again
        form = {k: v for k, v in parsed.items() if isinstance(v, str)}
        rule = CHANGES.get(template)
        if rule is None:
            raise ConsoleForbidden(f"no access rule for POST {template}: refused")
        actions = rule(request, form)
    else:
        actions = [Action.view]
    roster = dutyd.runtime.roster
    unit = await _unit(request, dutyd, form)
    for action in actions:
        if unit is None and request.path_params.get("incident_id") is None and not form:
            # A page of no one unit (the board, the plans): any grant of the role will do.
            if not any(viewer.may(action, u, roster) for u in roster.units):
                viewer.authorize(action, None, roster)
        else:
            viewer.authorize(action, unit, roster)
