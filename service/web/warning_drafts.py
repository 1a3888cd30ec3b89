"""Writing a warning in the console: a new draft, a draft edited, an update of one in
force; each form with its area picker and the live preview of its SMS, cell-broadcast
texts and CAP (posted as the form is typed; the preview changes nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from service.catalog import Level
from service.errors import DutydError, NotFound
from service.flows import warnings as flow
from service.warnings import service
from service.warnings.hazards import HAZARDS
from service.warnings.models import COLOUR_NAMES, COLOUR_OF_LEVEL, MsgType, Stage
from service.warnings.views import WarningView, warning_view
from service.web.access import console_access
from service.web.context import DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import field_errors, form_values
from service.web.render import page
from service.web.warning_forms import (
    CERTAINTIES,
    STATUSES,
    URGENCIES,
    FormProblems,
    area_choices,
    blank_values,
    draft_units,
    preview_of,
    read_content,
    values_of,
)
from service.web.warning_pages import WARNING, refusal_status, run, warning_page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)


def _preview(dutyd: DutydDep, viewer: Viewer, values: dict[str, Any]) -> dict[str, Any]:
    """The preview's values: what it will say, or what the form still lacks."""
    rules, roster, now = dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now()
    kind = MsgType.Update if values.get("kind") == MsgType.Update.value else MsgType.Alert
    try:
        content = read_content(values, rules, roster, now, viewer.language)
        shown = preview_of(content, rules, str(values["unit"]), kind, now)
    except FormProblems as exc:
        return {"preview": None, "problems": exc.errors}
    except (DutydError, ValueError) as exc:
        return {"preview": None, "problems": {"_": str(exc)}}
    return {"preview": shown, "problems": {}}


def _form_page(
    dutyd: DutydDep,
    viewer: Viewer,
    values: dict[str, Any],
    *,
    warning: WarningView | None = None,
    update_of: WarningView | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    roster, rules = dutyd.runtime.roster, dutyd.warning_rules
    if update_of is not None:
        mode, action, fixed = "update", f"/console/warnings/{update_of.id}/update", update_of.unit
    elif warning is not None:
        mode, action, fixed = "edit", f"/console/warnings/{warning.id}/edit", warning.unit
    else:
        mode, action, fixed = "new", "/console/warnings/new", None
    units = [
        u for u in ([fixed] if fixed else draft_units(viewer, roster, rules)) if u in rules.units
    ]
    unit = values.get("unit") if values.get("unit") in units else (units[0] if units else None)
    typed = any(str(values.get(f"zh_{f}", "")).strip() for f in ("headline", "description"))
    shown = _preview(dutyd, viewer, values) if typed else {"preview": None, "problems": {}}
    return page(
        "warning_form.html.j2",
        viewer.language,
        status_code=status,
        viewer=viewer,
        mode=mode,
        action=action,
        warning=warning or update_of,
        units=[(u, rules.units[u].zh) for u in units],
        zone_name=roster.unit(unit).zone.key if unit else "",
        hazards=list(HAZARDS.values()),
        levels=[(lv, COLOUR_NAMES[COLOUR_OF_LEVEL[lv]]) for lv in Level],
        colours={lv.value: COLOUR_OF_LEVEL[lv].value for lv in Level},
        statuses=STATUSES,
        urgencies=URGENCIES,
        certainties=CERTAINTIES,
        choices=area_choices(rules, roster),
        values=values,
        errors=errors or {},
        **shown,
    )


@router.get("/warnings/new")
async def new_warning(dutyd: DutydDep, viewer: ViewerDep, unit: str | None = None) -> HTMLResponse:
    roster = dutyd.runtime.roster
    units = draft_units(viewer, roster, dutyd.warning_rules)
    chosen = unit if unit in units else (units[0] if units else None)
    return _form_page(dutyd, viewer, blank_values(chosen, roster, dutyd.clock.now()))


@router.post("/warnings/preview")
async def preview(request: Request, dutyd: DutydDep, viewer: FormViewer) -> HTMLResponse:
    """The preview of the form as typed: nothing is stored."""
    values = await form_values(request)
    return page("_warning_preview.html.j2", viewer.language, **_preview(dutyd, viewer, values))


def _read(dutyd: DutydDep, viewer: Viewer, values: dict[str, Any]) -> Any:
    return read_content(
        values, dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now(), viewer.language
    )


def _refused(exc: Exception) -> dict[str, str]:
    return exc.errors if isinstance(exc, FormProblems) else field_errors(exc)


@router.post("/warnings/new")
async def create_draft(request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    values = await form_values(request)
    try:
        content = _read(dutyd, viewer, values)
        made = await run(
            dutyd,
            viewer,
            lambda s, d, p: flow.draft_warning(s, d, content, unit_id=values["unit"], actor=p),
        )
    except (FormProblems, DutydError, ValidationError, ValueError) as exc:
        status = 422 if isinstance(exc, FormProblems) else refusal_status(exc)
        return _form_page(dutyd, viewer, values, errors=_refused(exc), status=status)
    return RedirectResponse(f"/console/warnings/{made}", status_code=303)


async def _message(dutyd: DutydDep, warning_id: int) -> WarningView:
    async with dutyd.reads() as session:
        return warning_view(await service.get_warning(session, warning_id))


async def _live(dutyd: DutydDep, warning_id: int) -> WarningView | None:
    """The message in force of the chain `warning_id` belongs to, if one is."""
    async with dutyd.reads() as session:
        asked = await service.get_warning(session, warning_id)
        chain = await service.chain_of(session, service.root_id_of(asked))
    live = [r for r in chain if r.stage == Stage.published.value]
    if not live or live[-1].msg_type == MsgType.Cancel.value:
        return None
    return warning_view(live[-1])


def _missing(viewer: Viewer, exc: NotFound) -> HTMLResponse:
    return page("error.html.j2", viewer.language, status_code=404, viewer=viewer, message=str(exc))


@router.get(f"{WARNING}/edit")
async def edit_form(warning_id: int, dutyd: DutydDep, viewer: ViewerDep) -> Response:
    try:
        view = await _message(dutyd, warning_id)
    except NotFound as exc:
        return _missing(viewer, exc)
    if view.stage != Stage.draft.value or view.msg_type == MsgType.Cancel.value:
        return RedirectResponse(f"/console/warnings/{warning_id}", status_code=303)
    values = values_of(view.content, view.unit, dutyd.warning_rules, dutyd.runtime.roster)
    return _form_page(dutyd, viewer, {**values, "kind": view.msg_type}, warning=view)


@router.post(f"{WARNING}/edit")
async def save_draft(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    values = await form_values(request)
    try:
        view = await _message(dutyd, warning_id)
    except NotFound as exc:
        return _missing(viewer, exc)
    values = {**values, "unit": view.unit, "kind": view.msg_type}  # a draft keeps its unit
    try:
        content = _read(dutyd, viewer, values)
        await run(dutyd, viewer, lambda s, d, p: flow.edit_warning(s, d, warning_id, content, p))
    except (FormProblems, DutydError, ValidationError, ValueError) as exc:
        status = 422 if isinstance(exc, FormProblems) else refusal_status(exc)
        return _form_page(dutyd, viewer, values, warning=view, errors=_refused(exc), status=status)
    return RedirectResponse(f"/console/warnings/{warning_id}", status_code=303)


@router.get(f"{WARNING}/update")
async def update_form(warning_id: int, dutyd: DutydDep, viewer: ViewerDep) -> Response:
    try:
        live = await _live(dutyd, warning_id)
    except NotFound as exc:
        return _missing(viewer, exc)
    if live is None:
        message = f"warning {warning_id} is not in force (lifted, expired or unpublished)"
        return await warning_page(dutyd, viewer, warning_id, error=message, status=409)
    values = values_of(live.content, live.unit, dutyd.warning_rules, dutyd.runtime.roster)
    return _form_page(dutyd, viewer, {**values, "kind": MsgType.Update.value}, update_of=live)


@router.post(f"{WARNING}/update")
async def draft_update(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    values = await form_values(request)
    try:
        live = await _live(dutyd, warning_id)
    except NotFound as exc:
        return _missing(viewer, exc)
    if live is None:
        message = f"warning {warning_id} is not in force (lifted, expired or unpublished)"
        return await warning_page(dutyd, viewer, warning_id, error=message, status=409)
    values = {**values, "unit": live.unit, "kind": MsgType.Update.value}
    try:
        content = _read(dutyd, viewer, values)
        made = await run(
            dutyd, viewer, lambda s, d, p: flow.draft_update(s, d, warning_id, content, p)
        )
    except (FormProblems, DutydError, ValidationError, ValueError) as exc:
        status = 422 if isinstance(exc, FormProblems) else refusal_status(exc)
        return _form_page(
            dutyd, viewer, values, update_of=live, errors=_refused(exc), status=status
        )
    return RedirectResponse(f"/console/warnings/{made}", status_code=303)
