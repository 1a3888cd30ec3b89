"""The console mounted on the API's application: its pages under /console, its static
files, and what happens when a viewer is not logged in or may not do something."""

from __future__ import annotations

from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.app import Dutyd
from service.auth.tables import AccountRow
from service.web import (
    assignment_pages,
    board_pages,
    drill_pages,
    figure_pages,
    incident_pages,
    intake_pages,
    login_pages,
    office_pages,
    public_warnings,
    spotcheck_pages,
    warning_drafts,
    warning_pages,
)
from service.web.context import ConsoleForbidden, LoginRequired
from service.web.render import HERE, page

log = structlog.get_logger()


async def announce_console(dutyd: Dutyd) -> None:
    """Say where the console is, and how to make the first account if there is none."""
    url = f"{dutyd.settings.public_base_url.rstrip('/')}/console"
    async with dutyd.reads() as session:
        ready = await session.scalar(
            select(func.count())
            .select_from(AccountRow)
            .where(AccountRow.password_hash.is_not(None))
        )
    if ready:
        log.info("console.ready", url=url)
    else:
        log.warning(
            "console.no_accounts",
            url=url,
            hint="make the first account: dutyd user create-admin PERSON (a roster person id) "
            "prints a one-time link to set its password",
        )


# The console loads only its own files; nothing frames it, forms post only to it.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class ConsoleHeaders:
    """ASGI middleware: the security headers on every console response (pure ASGI, so
    the live event stream passes through unbuffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/console"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def install_console(app: FastAPI) -> None:
    app.add_middleware(ConsoleHeaders)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (
        login_pages,
        board_pages,
        incident_pages,
        office_pages,
        drill_pages,
        figure_pages,
        assignment_pages,
        intake_pages,
        spotcheck_pages,
        public_warnings,
        warning_drafts,
        warning_pages,
    ):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        target = "/console/login?next=" + quote(request.url.path)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ConsoleForbidden)
    async def _forbidden(request: Request, exc: ConsoleForbidden) -> HTMLResponse:
        language = request.cookies.get("dutyd_language", "zh")
        return page("error.html.j2", language, status_code=403, message=str(exc), viewer=None)
