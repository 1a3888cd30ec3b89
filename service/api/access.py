"""Which action of the access policy each API route is: the one table the bearer-token
check consults for every request that presents a token, so that no handler decides for
itself. A route changing something that is missing from the table is refused (fail
closed); reading needs `view`. Routes without a token (health, metrics, Twilio's signed
webhooks, acknowledgement links, calendar feeds) carry their own proof and take no Caller."""

from __future__ import annotations

from fastapi import Request

from service.auth.accounts import principal_for_token
from service.auth.policy import Action, authorize
from service.auth.tables import ApiTokenRow
from service.errors import Forbidden

INCIDENT = "/api/v1/incidents/{incident_id}"
WARNING = "/api/v1/warnings/{warning_id}"
ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    ("POST", "/api/v1/incidents"): Action.report_incident,
    **{
        ("POST", f"{INCIDENT}/{verb}"): Action.work_incident
        for verb in ("ack", "status", "level", "category", "casualties", "escalate", "reports")
    },
    ("POST", f"{INCIDENT}/replan"): Action.replan,
    ("POST", "/api/v1/plans/reload"): Action.reload_plans,
    ("PUT", "/api/v1/roster"): Action.edit_roster,
    ("POST", "/api/v1/roster/versions/{version_id}/restore"): Action.edit_roster,
    ("PUT", "/api/v1/roster/duty-table.csv"): Action.edit_duty_table,
    ("POST", "/api/v1/roster/overrides"): Action.request_override,
    ("POST", "/api/v1/roster/overrides/{override_id}/approve"): Action.approve_override,
    ("POST", "/api/v1/roster/feeds"): Action.manage_feeds,
    ("POST", "/api/v1/roster/feeds/revoke"): Action.manage_feeds,
    ("POST", "/api/v1/handovers"): Action.handover,
    ("POST", "/api/v1/handovers/{handover_id}/confirm"): Action.handover,
    ("POST", "/api/v1/silences"): Action.manage_silences,
    ("DELETE", "/api/v1/silences/{silence_id}"): Action.manage_silences,
    ("POST", f"{INCIDENT}/instructions"): Action.give_instruction,
    ("POST", "/api/v1/assignments/{assignment_id}/answer"): Action.work_incident,
    ("POST", "/api/v1/assignments/{assignment_id}/decide"): Action.give_instruction,
    ("POST", "/api/v1/reports/{duty_id}/explanation"): Action.work_incident,
    ("POST", "/api/v1/intake/alertmanager"): Action.report_machine,
    ("POST", "/api/v1/intake/heartbeat"): Action.report_machine,
    ("POST", "/api/v1/intake/drafts/{report_id}/confirm"): Action.report_incident,
    ("POST", "/api/v1/intake/drafts/{report_id}/dismiss"): Action.report_incident,
    ("POST", "/api/v1/warnings"): Action.draft_warning,
    ("POST", f"{INCIDENT}/warning"): Action.draft_warning,
    ("PUT", WARNING): Action.draft_warning,
    **{
        ("POST", f"{WARNING}/{verb}"): Action.draft_warning
        for verb in ("submit", "update", "withdraw")
    },
    ("POST", f"{WARNING}/review"): Action.review_warning,
    ("POST", f"{WARNING}/review-after"): Action.review_warning,
    ("POST", f"{WARNING}/sign"): Action.sign_warning,
    ("POST", f"{WARNING}/publish-now"): Action.sign_warning,
    ("POST", f"{WARNING}/lift"): Action.lift_warning,
    # The public's phone numbers and addresses: only for those who keep the lists.
    ("GET", "/api/v1/recipients"): Action.manage_recipients,
    ("PUT", "/api/v1/recipients.csv"): Action.manage_recipients,
    ("POST", "/api/v1/recipients/opt-out"): Action.manage_recipients,
    # Upstream CAP is drafted by rule; the source's token_name narrows it to one token.
    ("POST", "/api/v1/relay/{source}"): Action.draft_warning,
    ("POST", "/api/v1/drills"): Action.run_drill,
    ("POST", "/api/v1/drills/{drill_id}/end"): Action.run_drill,
}
READS = ("GET", "HEAD")


def route_action(method: str, path_template: str) -> Action | None:
    """The action a route is; None for a change the table does not know (refused)."""
    if method in READS:
        return ROUTE_ACTIONS.get((method, path_template), Action.view)
    return ROUTE_ACTIONS.get((method, path_template))


def check_route_access(request: Request, token: ApiTokenRow) -> None:
    route = request.scope.get("route")
    check_access(request.method, getattr(route, "path", request.url.path), token)


def check_access(method: str, template: str, token: ApiTokenRow) -> None:
    """Refuse the token this route (`template` as the router declares it) unless allowed."""
    action = route_action(method, template)
    if action is None:
        raise Forbidden(f"no access rule for {method} {template}: refused")
    # Tokens hold their role on every unit, so no unit needs naming here.
    authorize(principal_for_token(token), action, None, lambda _: None)
