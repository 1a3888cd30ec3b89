"""Public warnings in the console: the list with the viewer's own queue first (what they
may review or sign now, by the workflow's own rules), a warning's page (its content, its
workflow history, the versions of its chain, its live statistics, the buttons the viewer
may use now), and each workflow step posted from it. A step the workflow refuses comes
back on the page as a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.policy import Action, Principal
from service.catalog import Level
from service.errors import Conflict, DutydError, Forbidden, NotFound
from service.flows import warnings as flow
from service.flows.warnings import OPEN_STAGES, WarningDesk
from service.warnings import service
from service.warnings.areas import code_prefix
from service.warnings.hazards import HAZARDS
from service.warnings.models import MsgType, Stage
from service.warnings.tables import WarningRow
from service.warnings.views import WarningView, warning_detail, warning_stats, warning_view
from service.warnings.workflow import (
    Review,
    WorkflowRefused,
    check_cancel,
    check_emergency,
    check_review,
    check_sign,
)
from service.web.access import console_access
from service.web.context import ConsoleForbidden, DutydDep, FormViewer, Viewer, ViewerDep
from service.web.forms import form_values
from service.web.render import page
from service.web.warning_forms import area_choices, draft_units

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)
WARNING = "/warnings/{warning_id:int}"
Step = Callable[[AsyncSession, WarningDesk, Principal], Awaitable[WarningRow]]
QUEUE = {"review", "sign", "review_after"}  # what puts a warning in the viewer's queue
RECENT = 30


async def run(dutyd: DutydDep, viewer: Viewer, action: Step) -> int:
    """One step of the workflow in one transaction (through the outbox's gate), then the
    engine is woken for its fan-out; the id of the message the step made or moved."""
    desk = WarningDesk(dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now())

    async def work(session: AsyncSession) -> int:
        row = await action(session, desk, viewer.principal)
        await session.flush()
        return row.id

    made = await flow.run_step(dutyd.sessions, dutyd.warning_gate.lock, work)
    dutyd.wake()
    return made


def refusal_status(exc: Exception) -> int:
    """A refusal's status: not there 404, the workflow's rules or the state 409, else 422.
    An access refusal (not the workflow's) is the console's 403."""
    if isinstance(exc, Forbidden) and not isinstance(exc, WorkflowRefused):
        raise ConsoleForbidden(str(exc)) from None
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, WorkflowRefused | Conflict):
        return 409
    return 422


def _passes(check: Callable[[], None]) -> bool:
    try:
        check()
    except (WorkflowRefused, Conflict):
        return False
    return True


def offered(
    dutyd: DutydDep, viewer: Viewer, view: WarningView, reviews: list[Review], in_force: bool
) -> set[str]:
    """The steps the viewer may take on this message now: the access policy for their
    roles on its unit, then the workflow's own checks, the very ones the steps make."""
    roster, rules, actor = dutyd.runtime.roster, dutyd.warning_rules, viewer.principal
    unit, parent_of, stage, level = (
        view.unit,
        roster.parent_of,
        Stage(view.stage),
        Level(view.level),
    )
    who = {"drafted_by": view.drafted_by, "actor": actor, "unit": unit, "parent_of": parent_of}
    found: set[str] = set()
    if viewer.may(Action.draft_warning, unit, roster):
        if stage == Stage.draft and view.msg_type != MsgType.Cancel.value:
            found |= {"edit", "submit"}
        if stage in OPEN_STAGES:
            found.add("withdraw")
        if in_force:
            found.add("update")
    if viewer.may(Action.review_warning, unit, roster):
        if _passes(lambda: check_review(stage=stage, reviews=reviews, **who)):
            found.add("review")
        after = view.emergency and view.reviewed_after_by is None
        if after and actor.name not in (view.signed_by, view.drafted_by):
            if _passes(lambda: check_review(stage=Stage.in_review, reviews=[], **who)):
                found.add("review_after")
    if viewer.may(Action.sign_warning, unit, roster):
        if _passes(lambda: check_sign(rules, stage=stage, level=level, **who)):
            found.add("sign")
        if _passes(lambda: check_emergency(rules, stage=stage, level=level, **who)):
            found.add("publish_now")
    if in_force and viewer.may(Action.lift_warning, unit, roster):
        if _passes(lambda: check_cancel(rules, actor=actor, unit=unit, parent_of=parent_of)):
            found.add("lift")
    return found


def _shown(dutyd: DutydDep, viewer: Viewer) -> dict[str, Any]:
    """What every warning template needs: names, zones, hazards, the viewer's language."""
    roster, rules = dutyd.runtime.roster, dutyd.warning_rules
    return {
        "viewer": viewer,
        "hazards": HAZARDS,
        "zone_of": lambda unit: roster.unit(unit).zone,
        "unit_names": {
            u: (rules.units[u].zh if u in rules.units else roster.unit(u).name)
            for u in roster.units
        },
        "people": {p.id: p.name for p in roster.people.values()},
        "places": {
            key: c.name
            for c in area_choices(rules, roster)
            for key in (c.code, code_prefix(c.code))
        },
        "text_language": "zh-CN" if viewer.language == "zh" else "en-US",
    }


@router.get("/warnings")
async def warnings_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    roster, now = dutyd.runtime.roster, dutyd.clock.now()
    async with dutyd.reads() as session:
        rows = list(
            await session.scalars(
                select(WarningRow)
                .where(WarningRow.unit_id.in_(viewer.units(roster)))
                .order_by(WarningRow.id.desc())
                .limit(300)
            )
        )
        reviews = {
            r.id: service.reviews_since_submitted(await service.steps_of(session, r.id))
            for r in rows
            if r.stage == Stage.in_review.value
        }
    queue, works, in_force, recent = [], [], [], []
    for row in rows:
        view = warning_view(row)
        mine = offered(dutyd, viewer, view, reviews.get(row.id, []), False) & QUEUE
        if mine:
            queue.append((view, sorted(mine)))
        live = view.stage == Stage.published.value and view.msg_type != MsgType.Cancel.value
        if live and view.expires_at > now:
            in_force.append(view)
        elif Stage(view.stage) in OPEN_STAGES:
            if not mine:
                works.append(view)
        elif len(recent) < RECENT:
            recent.append(view)
    return page(
        "warnings.html.j2",
        viewer.language,
        queue=queue,
        works=works,
        in_force=in_force,
        recent=recent,
        may_draft=bool(draft_units(viewer, roster, dutyd.warning_rules)),
        **_shown(dutyd, viewer),
    )


async def warning_page(
    dutyd: DutydDep,
    viewer: Viewer,
    warning_id: int,
    *,
    error: str = "",
    status: int = 200,
    confirm: str = "",
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    async with dutyd.reads() as session:
        try:
            view = await warning_detail(session, warning_id)
        except NotFound as exc:
            return page(
                "error.html.j2", viewer.language, status_code=404, viewer=viewer, message=str(exc)
            )
        reviews = service.reviews_since_submitted(await service.steps_of(session, warning_id))
        chain = [warning_view(r) for r in await service.chain_of(session, view.root_id)]
    published = [c for c in chain if c.stage == Stage.published.value]
    in_force = bool(published) and published[-1].msg_type != MsgType.Cancel.value
    rules, shown = dutyd.warning_rules, _shown(dutyd, viewer)
    return page(
        "warning.html.j2",
        viewer.language,
        status_code=status,
        view=view,
        text=view.content.text(shown["text_language"]),
        chain=chain,
        live_id=published[-1].id if in_force else None,
        buttons=offered(dutyd, viewer, view, reviews, in_force),
        rule=rules.rule(Level(view.level)),
        emergency_levels=[lv.value for lv in rules.emergency_levels],
        reviews=reviews,
        zone=dutyd.runtime.roster.unit(view.unit).zone,
        error=error,
        confirm=confirm,
        values=values or {},
        **shown,
    )


@router.get(WARNING)
async def show_warning(
    warning_id: int, dutyd: DutydDep, viewer: ViewerDep, confirm: str = ""
) -> HTMLResponse:
    return await warning_page(dutyd, viewer, warning_id, confirm=confirm)


@router.get(f"{WARNING}/stats")
async def warning_statistics(warning_id: int, dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    """The statistics alone, for the page to poll while messages go out."""
    async with dutyd.reads() as session:
        try:
            row = await service.get_warning(session, warning_id)
        except NotFound as exc:
            return page(
                "error.html.j2", viewer.language, status_code=404, viewer=viewer, message=str(exc)
            )
        view = warning_view(row)
        view.stats = await warning_stats(session, row) if row.published_at else None
    return page("_warning_stats.html.j2", viewer.language, view=view, **_shown(dutyd, viewer))


async def act(
    request: Request,
    dutyd: DutydDep,
    viewer: Viewer,
    warning_id: int,
    action: Step,
    *,
    confirm: str = "",
) -> Response:
    """A step posted from the warning's page: on to the message it made or moved, or back
    to the page with the refusal said (what was typed kept, a confirmation open again)."""
    values = await form_values(request)
    try:
        made = await run(dutyd, viewer, action)
    except (DutydError, ValidationError, ValueError) as exc:
        status = refusal_status(exc)
        return await warning_page(
            dutyd,
            viewer,
            warning_id,
            error=str(exc),
            status=status,
            values=values,
            confirm=confirm,
        )
    return RedirectResponse(f"/console/warnings/{made}", status_code=303)


async def _value(request: Request, name: str) -> str:
    return str((await form_values(request)).get(name, "")).strip()


@router.post(f"{WARNING}/submit")
async def submit(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    return await act(
        request, dutyd, viewer, warning_id, lambda s, d, p: flow.submit_warning(s, d, warning_id, p)
    )


@router.post(f"{WARNING}/review")
async def review(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    approve = await _value(request, "decision") == "approve"
    comment = await _value(request, "comment")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.review_warning(s, d, warning_id, p, approve=approve, comment=comment),
    )


@router.post(f"{WARNING}/sign")
async def sign(warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    comment = await _value(request, "comment")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.sign_warning(s, d, warning_id, p, comment=comment),
    )


@router.post(f"{WARNING}/publish-now")
async def publish_now(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    reason = await _value(request, "reason")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.publish_at_once(s, d, warning_id, p, reason=reason),
    )


@router.post(f"{WARNING}/review-after")
async def review_after(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    comment = await _value(request, "comment")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.review_after(s, d, warning_id, p, comment=comment),
    )


@router.post(f"{WARNING}/lift")
async def lift(warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer) -> Response:
    reason = await _value(request, "reason")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.lift_warning(s, d, warning_id, p, reason=reason),
        confirm="lift",
    )


@router.post(f"{WARNING}/withdraw")
async def withdraw(
    warning_id: int, request: Request, dutyd: DutydDep, viewer: FormViewer
) -> Response:
    reason = await _value(request, "reason")
    return await act(
        request,
        dutyd,
        viewer,
        warning_id,
        lambda s, d, p: flow.withdraw_draft(s, d, warning_id, p, reason=reason),
    )
