"""Logging in and out, setting a password from an invitation, choosing the language."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.audit.capture import record
from service.audit.context import Actor
from service.auth.accounts import invite_is_open, redeem_invite
from service.auth.sessions import REFUSED, check_login, end_session, start_session
from service.auth.tables import AccountRow
from service.errors import AuthError, InvalidInput
from service.web.context import (
    COOKIE,
    DutydDep,
    SessionFormViewer,
    client_address,
    forget_session,
    session_rules,
)
from service.web.forms import read_form
from service.web.render import page

router = APIRouter(prefix="/console", include_in_schema=False)
LOGIN_CSRF = "dutyd_login_csrf"


def _language(request: Request) -> str:
    return "en" if request.cookies.get("dutyd_language") == "en" else "zh"


def _safe_next(target: str) -> str:
    """Only a path of this console: a login link must not send anyone elsewhere."""
    return target if target.startswith("/console") and not target.startswith("//") else "/console"


def _login_form(
    request: Request, *, next_path: str, error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        "login.html.j2",
        _language(request),
        status_code=status,
        viewer=None,
        csrf=token,
        next_path=_safe_next(next_path),
        error=error,
    )
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", path="/console")
    return response


def _secure(request: Request, dutyd: DutydDep) -> bool:
    """HTTPS as the browser sees it: the request's scheme, or the public address."""
    return request.url.scheme == "https" or dutyd.settings.public_base_url.startswith("https")


def _set_session_cookie(request: Request, response: Response, value: str, dutyd: DutydDep) -> None:
    response.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=_secure(request, dutyd),
        max_age=dutyd.settings.session_max_hours * 3600,
        path="/",
    )


@router.get("/login")
async def login_form(request: Request, next: str = "/console") -> Response:
    return _login_form(request, next_path=next)


@router.post("/login")
async def login(
    request: Request,
    dutyd: DutydDep,
    login: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _login_form(request, next_path=next, error="the form expired: try again", status=403)
    now = dutyd.clock.now()
    account_id = await check_login(
        dutyd.sessions,
        login.strip(),
        password,
        address=client_address(request),
        now=now,
        rules=session_rules(dutyd),
    )
    who = Actor(login.strip()[:128], "person", client_address(request), "login", dutyd.clock.now)
    if account_id is None:
        async with dutyd.sessions.begin() as session:
            record(session, who, "login refused")
        return _login_form(request, next_path=next, error=REFUSED, status=401)
    async with dutyd.sessions.begin() as session:
        account = await session.get(AccountRow, account_id)
        assert account is not None
        record(session, who, "login", subjects=[f"accounts:{account_id}"])
        cookie = await start_session(
            session,
            account,
            address=client_address(request),
            now=now,
            rules=session_rules(dutyd),
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_session_cookie(request, response, cookie, dutyd)
    response.delete_cookie(LOGIN_CSRF, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, dutyd: DutydDep, viewer: SessionFormViewer) -> Response:
    async with dutyd.sessions.begin() as session:
        row = await session.merge(viewer.web_session)
        end_session(row, dutyd.clock.now())
        record(
            session,
            Actor(viewer.person_id, "person", client_address(request), "logout", dutyd.clock.now),
            "logout",
        )
    forget_session(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(request: Request, dutyd: DutydDep, viewer: SessionFormViewer) -> Response:
    chosen = "en" if viewer.language == "zh" else "zh"
    async with dutyd.sessions.begin() as session:
        account = await session.merge(viewer.account)
        account.language = chosen
    back = (await read_form(request)).get("next", "")
    response = RedirectResponse(_safe_next(back), status_code=303)
    response.set_cookie("dutyd_language", chosen, samesite="lax", path="/")
    return response


@router.get("/invite/{secret}")
async def invite_form(request: Request, secret: str, dutyd: DutydDep) -> HTMLResponse:
    async with dutyd.reads() as session:
        usable = await invite_is_open(session, secret, dutyd.clock.now())
    token = secrets.token_urlsafe(24)
    response = page(
        "invite.html.j2",
        _language(request),
        status_code=200 if usable else 410,
        viewer=None,
        usable=usable,
        csrf=token,
        error="" if usable else "this invitation link is unknown, used or expired",
    )
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", path="/console")
    return response


@router.post("/invite/{secret}")
async def invite_accept(
    request: Request,
    secret: str,
    dutyd: DutydDep,
    password: Annotated[str, Form(max_length=1024)],
    password_again: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    now = dutyd.clock.now()
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return page(
            "invite.html.j2",
            _language(request),
            status_code=403,
            viewer=None,
            usable=False,
            error="the form expired: open the invitation link again",
        )
    try:
        if password != password_again:
            raise InvalidInput("the two passwords differ", field="password")
        async with dutyd.sessions.begin() as session:
            account = await redeem_invite(session, secret, password, now=now)
            cookie = await start_session(
                session,
                account,
                address=client_address(request),
                now=now,
                rules=session_rules(dutyd),
            )
    except (AuthError, InvalidInput) as exc:
        return page(
            "invite.html.j2",
            _language(request),
            status_code=422,
            viewer=None,
            usable=True,
            error=str(exc),
        )
    response = RedirectResponse("/console", status_code=303)
    _set_session_cookie(request, response, cookie, dutyd)
    return response
