"""The board (值班台) and the wall display (大屏), kept live over Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette.sse import EventSourceResponse

from service.auth.policy import Action
from service.web.access import console_access
from service.web.board import build_board
from service.web.context import COOKIE, DutydDep, Viewer, ViewerDep, viewer_for
from service.web.live import ChangeFeed
from service.web.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_access)]
)


def change_feed(request: Request) -> ChangeFeed:
    feed = getattr(request.app.state, "console_feed", None)
    if feed is None:
        feed = request.app.state.console_feed = ChangeFeed(request.app.state.dutyd)
    return feed


async def _board_values(dutyd: DutydDep, viewer: Viewer, *, with_gaps: bool) -> dict[str, object]:
    runtime = dutyd.runtime
    units = viewer.units(runtime.roster)
    async with dutyd.reads() as session:
        board = await build_board(session, runtime, units, dutyd.clock.now(), with_gaps=with_gaps)
    return {
        "viewer": viewer,
        "board": board,
        "zones": {u: runtime.roster.unit(u).zone for u in units},
        "may_log": any(viewer.may(Action.report_incident, u, runtime.roster) for u in units),
    }


@router.get("")
async def board_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    values = await _board_values(dutyd, viewer, with_gaps=True)
    return page("board.html.j2", viewer.language, **values)


@router.get("/board")
async def board_fragment(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    values = await _board_values(dutyd, viewer, with_gaps=True)
    return page("_board.html.j2", viewer.language, **values)


@router.get("/wall")
async def wall_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    values = await _board_values(dutyd, viewer, with_gaps=False)
    return page("wall.html.j2", viewer.language, **values)


@router.get("/wall/board")
async def wall_fragment(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    values = await _board_values(dutyd, viewer, with_gaps=False)
    return page("_wall_board.html.j2", viewer.language, **values)


@router.get("/events", response_model=None)
async def events(
    request: Request, dutyd: DutydDep, viewer: ViewerDep
) -> EventSourceResponse | Response:
    """`changed` whenever anything an officer must see changed; the page then fetches
    its fragment again. Sent once at connection too, so a reconnect misses nothing. The
    session is checked again at each keep-alive: a stream ends with its session."""
    feed = change_feed(request)
    session_id = viewer.web_session.id
    if not feed.admit(session_id):
        return Response("too many live streams for this session", status_code=429)

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "changed", "data": "connected"}
            async for changed in feed.updates():
                if await request.is_disconnected():
                    return
                if changed:
                    yield {"event": "changed", "data": "changed"}
                    continue
                async with dutyd.reads() as session:
                    if await viewer_for(session, dutyd, request.cookies.get(COOKIE)) is None:
                        yield {"event": "ended", "data": "session ended"}
                        return
                yield {"event": "ping", "data": ""}
        finally:
            feed.release(session_id)

    return EventSourceResponse(stream(), ping=None, send_timeout=30)
