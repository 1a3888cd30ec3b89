"""The console mounted on the API's application: its pages under /console, its static
files, and what happens when a viewer is not logged in or may not do something."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from service.web import board_pages, incident_pages, login_pages, office_pages
from service.web.context import ConsoleForbidden, LoginRequired
from service.web.render import HERE, page


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
