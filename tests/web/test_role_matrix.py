"""Every route of the API and every page and action of the console, with every role: each
is refused (403) exactly when the access policy says the role may not, and no route that
changes anything is missing from the policy."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

from service.api import (
    access,
    ack,
    drills,
    incidents,
    instructions,
    intake,
    plans,
    relay,
    reports,
    roster,
    silences,
    spotchecks,
    statistics,
    system,
    twilio,
    warnings,
)
from service.api.access import route_action
from service.auth.policy import ALLOWED, Action, Grant
from service.auth.tokens import Role
from service.web import (
    assignment_pages,
    board_pages,
    drill_pages,
    figure_pages,
    incident_pages,
    intake_pages,
    login_pages,
    office_pages,
    spotcheck_pages,
    warning_drafts,
    warning_pages,
)
from tests.api_helpers import api_client
from tests.conftest import Daemon
from tests.web.console_helpers import console_client, csrf_of

API_MODULES = (
    incidents,
    plans,
    roster,
    reports,
    silences,
    system,
    twilio,
    ack,
    warnings,
    relay,
    intake,
    instructions,
    spotchecks,
    statistics,
    drills,
)
CONSOLE_MODULES = (
    login_pages,
    board_pages,
    incident_pages,
    office_pages,
    warning_drafts,
    warning_pages,
    drill_pages,
    figure_pages,
    assignment_pages,
    intake_pages,
    spotcheck_pages,
)
FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "IV",
    "unit": "qingshan",
    "title": "矩阵测试",
}
# Routes that take no token: each carries its own proof (a signature, a secret link).
OPEN_ROUTES = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/ack/{token}",
    "/calendar/{token}.ics",
    "/twilio/status",
    "/twilio/sms",
    "/twilio/voice/{message_id}",
    "/api/v1/intake/webhook/{source}",  # signed with the source's shared secret
}


def fill(path: str, incident_id: int) -> str:
    path = path.replace("{incident_id:int}", str(incident_id)).replace(
        "{incident_id}", str(incident_id)
    )
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_api_route_with_every_role(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    admin = await api_client(dutyd, Role.admin, "matrix-admin")
    incident_id = (await admin.post("/api/v1/incidents", json=FLOOD)).json()["id"]
    routes = [r for module in API_MODULES for r in module.router.routes]
    checked = 0
    for role in Role:
        client = await api_client(dutyd, role, f"matrix-as-{role.value}")
        for route in routes:
            for method in route.methods - {"HEAD"}:
                if route.path in OPEN_ROUTES:
                    continue
                action = route_action(method, route.path)
                assert action is not None, f"{method} {route.path} has no access rule"
                answer = await client.request(method, fill(route.path, incident_id), json={})
                refused = answer.status_code == 403
                allowed = role in ALLOWED[action]
                assert refused != allowed, (
                    f"{role.value} {method} {route.path} ({action.value}): {answer.status_code} "
                    f"{answer.text[:200]}"
                )
                assert answer.status_code < 500, (role, method, route.path, answer.text)
                checked += 1
        await client.aclose()
    assert checked > 7 * 30
    await admin.aclose()


WARNING = "/console/warnings/{warning_id:int}"
WARNING_FORM = {
    "unit": "qingshan",
    "hazard": "rainstorm",
    "level": "IV",
    "status": "Actual",
    "expires": "2026-07-16T10:00",
    "area_qingshan": "on",
    "zh_headline": "矩阵测试预警",
    "zh_description": "矩阵测试。",
}
CONSOLE_PAGES = [
    ("GET", "/console", Action.view),
    ("GET", "/console/board", Action.view),
    ("GET", "/console/wall", Action.view),
    ("GET", "/console/wall/board", Action.view),
    ("GET", "/console/incidents/new", Action.view),
    ("GET", "/console/incidents/{incident_id:int}", Action.view),
    ("GET", "/console/roster", Action.view),
    ("GET", "/console/plans", Action.view),
    ("POST", "/console/incidents/new", Action.report_incident),
    ("POST", "/console/incidents/{incident_id:int}/escalate", Action.work_incident),
    ("POST", "/console/incidents/{incident_id:int}/ack", Action.work_incident),
    ("POST", "/console/incidents/{incident_id:int}/category", Action.work_incident),
    ("POST", "/console/incidents/{incident_id:int}/status", Action.work_incident),
    ("POST", "/console/incidents/{incident_id:int}/replan", Action.replan),
    ("POST", "/console/incidents/{incident_id:int}/warning", Action.draft_warning),
    ("POST", "/console/roster/overrides", Action.request_override),
    ("POST", "/console/roster/overrides/{override_id}/approve", Action.approve_override),
    ("POST", "/console/handover", Action.handover),
    ("POST", "/console/handover/{handover_id:int}/confirm", Action.handover),
    ("GET", "/console/warnings", Action.view),
    ("GET", "/console/warnings/new", Action.view),
    ("POST", "/console/warnings/new", Action.draft_warning),
    ("POST", "/console/warnings/preview", Action.draft_warning),
    ("GET", f"{WARNING}", Action.view),
    ("GET", f"{WARNING}/stats", Action.view),
    ("GET", f"{WARNING}/edit", Action.view),
    ("GET", f"{WARNING}/update", Action.view),
    ("POST", f"{WARNING}/edit", Action.draft_warning),
    ("POST", f"{WARNING}/update", Action.draft_warning),
    ("POST", f"{WARNING}/submit", Action.draft_warning),
    ("POST", f"{WARNING}/review", Action.review_warning),
    ("POST", f"{WARNING}/sign", Action.sign_warning),
    ("POST", f"{WARNING}/publish-now", Action.sign_warning),
    ("POST", f"{WARNING}/review-after", Action.review_warning),
    ("POST", f"{WARNING}/lift", Action.lift_warning),
    ("POST", f"{WARNING}/withdraw", Action.draft_warning),
    ("GET", "/console/drills", Action.view),
    ("POST", "/console/drills", Action.run_drill),
    ("GET", "/console/drills/{drill_id:int}", Action.view),
    ("GET", "/console/drills/{drill_id:int}/report.csv", Action.view),
    ("GET", "/console/drills/{drill_id:int}/report.pdf", Action.view),
    ("POST", "/console/drills/{drill_id:int}/end", Action.run_drill),
    ("GET", "/console/figures", Action.view),
    ("GET", "/console/assignments", Action.view),
    ("GET", "/console/intake", Action.view),
    ("GET", "/console/spot-checks", Action.view),
    ("GET", "/console/spot-checks/mine", Action.view),
    ("POST", "/console/spot-checks/answer", Action.view),
    ("POST", "/console/intake/drafts/{report_id:int}/confirm", Action.report_incident),
    ("POST", "/console/intake/drafts/{report_id:int}/dismiss", Action.report_incident),
    ("POST", "/console/instructions/{incident_id:int}", Action.give_instruction),
    ("POST", "/console/assignments/{assignment_id:int}/answer", Action.work_incident),
    ("POST", "/console/assignments/{assignment_id:int}/decide", Action.give_instruction),
    ("GET", "/console/figures/monthly.{kind}", Action.view),
]
FORMS: dict[str, dict[str, Any]] = {
    "/console/incidents/new": {**FLOOD, "confirm_new": "yes"},
    "/console/incidents/{incident_id:int}/status": {"status": "responding"},
    "/console/roster/overrides": {"unit": "qingshan", "role": "duty_officer"},
    "/console/roster/overrides/{override_id}/approve": {"unit": "qingshan"},
    "/console/handover": {"unit": "qingshan"},
    "/console/handover/{handover_id:int}/confirm": {"unit": "qingshan"},
    "/console/warnings/new": WARNING_FORM,
    "/console/warnings/preview": WARNING_FORM,
    f"{WARNING}/edit": WARNING_FORM,
    f"{WARNING}/update": WARNING_FORM,
    f"{WARNING}/review": {"decision": "approve"},
    f"{WARNING}/publish-now": {"reason": "矩阵"},
    f"{WARNING}/lift": {"reason": "矩阵"},
    "/console/drills": {"plan": "qingshan-flood", "level": "IV", "unit": "qingshan"},
}


# Pages any logged-in person, or anyone, may reach: logging in and out, an invitation,
# the language; the live event stream (it shows nothing by itself).
CONSOLE_OPEN = {
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("POST", "/console/language"),
    ("GET", "/console/invite/{secret}"),
    ("POST", "/console/invite/{secret}"),
    ("GET", "/console/events"),
}
GENERIC = {("POST", "/console/incidents/{incident_id:int}/{action}")}


def test_every_console_route_is_in_the_matrix() -> None:
    listed = {(m, p) for m, p, _ in CONSOLE_PAGES}
    for module in CONSOLE_MODULES:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods - {"HEAD"}:
                key = (method, route.path)
                generic = key in GENERIC and any(
                    p.startswith("/console/incidents/{incident_id:int}/") for _, p in listed
                )
                assert key in listed or key in CONSOLE_OPEN or generic, key


def test_every_console_change_has_an_access_rule() -> None:
    """The console's routers pass every request through web.access; each POST is in its
    table (a POST missing from it is refused, so this keeps the table complete)."""
    from service.web import access as console_access

    for module in (
        board_pages,
        incident_pages,
        office_pages,
        warning_drafts,
        warning_pages,
        drill_pages,
        assignment_pages,
        intake_pages,
        spotcheck_pages,
    ):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            if "POST" in route.methods:
                assert route.path in console_access.CHANGES, route.path


def test_the_api_table_names_only_routes_that_exist() -> None:
    existing = {
        (m, r.path) for module in API_MODULES for r in module.router.routes for m in r.methods
    }
    assert set(access.ROUTE_ACTIONS) <= existing, set(access.ROUTE_ACTIONS) - existing


async def test_every_console_page_and_action_with_every_role(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    admin = await api_client(dutyd, Role.admin, "matrix-admin")
    incident_id = (await admin.post("/api/v1/incidents", json=FLOOD)).json()["id"]
    people = ["zhang_wei", "li_na", "wang_fang", "chen_gang", "zhao_min", "liu_yang", "sun_li"]
    # Every role a person can hold (`source` is for machines' tokens only).
    people_roles = [r for r in Role if r is not Role.source]
    for role, person in zip(people_roles, people, strict=True):
        client: httpx.AsyncClient = await console_client(dutyd, person, Grant(role))
        csrf = csrf_of((await client.get("/console/incidents/new")).text)
        for method, path, action in CONSOLE_PAGES:
            data = {**FORMS.get(path, {}), "csrf": csrf}
            url = fill(path, incident_id)
            answer = await (client.get(url) if method == "GET" else client.post(url, data=data))
            refused = answer.status_code == 403
            allowed = role in ALLOWED[action]
            assert refused != allowed, (
                f"{role.value} {method} {path}: {answer.status_code} {answer.text[:300]}"
            )
            assert answer.status_code < 500, (role, path, answer.text)
        await client.aclose()
    await admin.aclose()
