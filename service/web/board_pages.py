"""The board (值班台) and the wall display (大屏), kept live over Server-Sent Events."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette.sse import EventSourceResponse

from service.auth.policy import Action
from service.web.access import console_access
from service.web.board import build_board, changed_rows
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


NOW_MARK = "0000-00-00T00:00:00+00:00"  # replaced by each answer's own server time
FRESH_SECONDS = 30  # a shared fragment is rebuilt at the latest this often


class SharedFragments:
    """A fragment built once per change and scope and served to every console that
    asks: after a change, a hundred boards refetch at once, and one build (not a
    hundred, one after another on the engine's event loop) answers them all."""

    def __init__(self) -> None:
        self.builds: dict[tuple[object, ...], asyncio.Task[str]] = {}

    async def get(self, key: tuple[object, ...], build: Callable[[], Awaitable[str]]) -> str:
        task = self.builds.get(key)
        if task is None:
            if len(self.builds) > 64:
                self.builds = {k: t for k, t in self.builds.items() if not t.done()}
            task = self.builds[key] = asyncio.ensure_future(build())
            task.add_done_callback(lambda t: self.builds.pop(key, None) if t.exception() else None)
        return await asyncio.shield(task)


def shared_fragments(request: Request) -> SharedFragments:
    shared = getattr(request.app.state, "console_fragments", None)
    if shared is None:
        shared = request.app.state.console_fragments = SharedFragments()
    return shared


async def _fragment(
    request: Request, dutyd: DutydDep, viewer: Viewer, template: str, *, with_gaps: bool
) -> HTMLResponse:
    units = tuple(viewer.units(dutyd.runtime.roster))
    may_log = any(viewer.may(Action.report_incident, u, dutyd.runtime.roster) for u in units)
    now = dutyd.clock.now()
    feed = change_feed(request)
    if feed.task is None or feed.task.done():
        # Nothing watches for changes here yet, so nothing says when a build goes stale.
        values = await _board_values(dutyd, viewer, with_gaps=with_gaps)
        return page(template, viewer.language, **values)
    key = (
        template,
        units,
        viewer.language,
        may_log,
        feed.changes,
        id(dutyd.runtime),
        int(now.timestamp() // FRESH_SECONDS),
    )

    async def build() -> str:
        values = await _board_values(dutyd, viewer, with_gaps=with_gaps)
        response = page(template, viewer.language, now_mark=NOW_MARK, **values)
        return bytes(response.body).decode()

    html = await shared_fragments(request).get(key, build)
    body = html.replace(NOW_MARK, now.isoformat()).encode()
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 32_768:
        # A large board to a hundred consoles: compressed, at the lowest effort that pays.
        return Response(
            gzip.compress(body, compresslevel=1),
            media_type="text/html; charset=utf-8",
            headers={"content-encoding": "gzip", "vary": "accept-encoding"},
        )
    return HTMLResponse(body)


@router.get("/board")
async def board_fragment(request: Request, dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    return await _fragment(request, dutyd, viewer, "_board.html.j2", with_gaps=True)


@router.get("/wall")
async def wall_page(dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    values = await _board_values(dutyd, viewer, with_gaps=False)
    return page("wall.html.j2", viewer.language, **values)


@router.get("/wall/board")
async def wall_fragment(request: Request, dutyd: DutydDep, viewer: ViewerDep) -> HTMLResponse:
    return await _fragment(request, dutyd, viewer, "_wall_board.html.j2", with_gaps=False)


ROWS = {"board": ("_incident_row.html.j2", "tr"), "wall": ("_wall_row.html.j2", "div")}


async def _rows_update(
    request: Request,
    dutyd: DutydDep,
    viewer: Viewer,
    view: str,
    ids: frozenset[int],
    change: int,
) -> str:
    """The rows of the incidents a change touched, as one view of one scope shows them,
    built once for every console of that scope; each with the server's time."""
    template, tag = ROWS[view]
    units = tuple(viewer.units(dutyd.runtime.roster))
    key = ("rows", view, units, viewer.language, change, ids)

    async def build() -> str:
        async with dutyd.reads() as session:
            lines, gone = await changed_rows(
                session, dutyd.runtime, list(units), dutyd.clock.now(), ids
            )
        response = page(
            "_rows.html.j2",
            viewer.language,
            lines=lines,
            gone=gone,
            row_template=template,
            gone_tag=tag,
            now_mark=NOW_MARK,
            zones={},
        )
        return bytes(response.body).decode()

    html = await shared_fragments(request).get(key, build)
    return html.replace(NOW_MARK, dutyd.clock.now().isoformat())


@router.get("/events", response_model=None)
async def events(
    request: Request, dutyd: DutydDep, viewer: ViewerDep, view: str | None = None
) -> EventSourceResponse | Response:
    """Live updates. For a board or the wall (`view`), the rows of the incidents each
    change touched (`rows`), so that no console refetches its whole board; `changed` when
    the board is too far behind for that, or for any other page, which then fetches
    itself again. `changed` once at connection too, so a reconnect misses nothing. The
    session is checked again at each keep-alive: a stream ends with its session."""
    feed = change_feed(request)
    session_id = viewer.web_session.id
    if view is not None and view not in ROWS:
        return Response(f"unknown view {view!r}", status_code=422)
    if not feed.admit(session_id):
        return Response("too many live streams for this session", status_code=429)

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "changed", "data": "connected"}
            async for step in feed.updates():
                if await request.is_disconnected():
                    return
                if step is not None:
                    before, now_seen = step
                    ids = feed.touched_since(before) if view else None
                    if ids is None:
                        yield {"event": "changed", "data": "changed"}
                    elif ids and view:
                        html = await _rows_update(request, dutyd, viewer, view, ids, now_seen)
                        if html.strip():
                            yield {"event": "rows", "data": html}
                    continue
                async with dutyd.reads() as session:
                    if await viewer_for(session, dutyd, request.cookies.get(COOKIE)) is None:
                        yield {"event": "ended", "data": "session ended"}
                        return
                yield {"event": "ping", "data": ""}
        finally:
            feed.release(session_id)

    return EventSourceResponse(stream(), ping=None, send_timeout=30)
