"""The console mounted on the API's application: its pages under /console, its static
files, and what happens when a viewer is not logged in or may not do something."""

from __future__ import annotations

from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select

from service.app import Dutyd
from service.auth.tables import AccountRow
from service.web import board_pages, incident_pages, login_pages, office_pages
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


def install_console(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (login_pages, board_pages, incident_pages, office_pages):
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
