"""Who is looking at the console: the session behind the cookie, the principal it acts
as, the language of its pages; and the CSRF check every form passes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth.accounts import principal_for_account
from service.auth.policy import Action, Principal, authorize
from service.auth.sessions import (
    SessionRules,
    needs_touch,
    session_for_cookie,
    touch_session,
)
from service.auth.tables import AccountRow, WebSessionRow
from service.errors import AuthError, Forbidden
from service.roster.roster import Roster

COOKIE = "dutyd_console"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(AuthError):
    """No live session: the console sends the browser to the login page."""


class ConsoleForbidden(Forbidden):
    """Refused in the console: shown as a page, not as the API's JSON."""


def get_dutyd(request: Request) -> Dutyd:
    return request.app.state.dutyd


DutydDep = Annotated[Dutyd, Depends(get_dutyd)]


def session_rules(dutyd: Dutyd) -> SessionRules:
    s = dutyd.settings
    return SessionRules(
        idle=timedelta(minutes=s.session_idle_minutes),
        absolute=timedelta(hours=s.session_max_hours),
        max_failures=s.login_max_failures,
        lockout=timedelta(minutes=s.login_lockout_minutes),
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    account: AccountRow
    web_session: WebSessionRow
    language: str
    name: str

    @property
    def person_id(self) -> str:
        return self.account.person_id

    @property
    def csrf(self) -> str:
        return self.web_session.csrf_token

    def authorize(self, action: Action, unit_id: str | None, roster: Roster) -> None:
        try:
            authorize(self.principal, action, unit_id, roster.parent_of)
        except Forbidden as exc:
            raise ConsoleForbidden(str(exc)) from None

    def may(self, action: Action, unit_id: str | None, roster: Roster) -> bool:
        return self.principal.may(action, unit_id, roster.parent_of)

    def units(self, roster: Roster) -> list[str]:
        return self.principal.visible_units(roster.units, roster.parent_of)


async def viewer_for(session: AsyncSession, dutyd: Dutyd, cookie: str | None) -> Viewer | None:
    found = await session_for_cookie(
        session, cookie, now=dutyd.clock.now(), rules=session_rules(dutyd)
    )
    if found is None:
        return None
    row, account = found
    person = dutyd.runtime.roster.people.get(account.person_id)
    language = account.language or (person.language if person else "zh")
    return Viewer(
        principal=await principal_for_account(session, account),
        account=account,
        web_session=row,
        language=language if language in ("zh", "en") else "zh",
        name=person.name if person else account.person_id,
    )


# A session found is trusted this long in this process without asking the database again:
# a hundred boards refetching at once cost one look-up each, not a hundred. A logout or a
# disabled account takes effect here within that time.
RECHECK_SECONDS = 2.0
_recent: dict[str, tuple[datetime, Viewer]] = {}


async def get_session_viewer(request: Request, dutyd: DutydDep) -> Viewer:
    """The logged-in viewer, whatever roles they hold (enough to log out). Read without
    the write lock; the session's last use is written at most once a minute."""
    cookie = request.cookies.get(COOKIE) or ""
    seen = _recent.get(cookie)
    now = dutyd.clock.now()
    if seen is not None and timedelta(0) <= now - seen[0] < timedelta(seconds=RECHECK_SECONDS):
        return seen[1]
    async with dutyd.reads() as session:
        viewer = await viewer_for(session, dutyd, cookie)
    if viewer is None or viewer.person_id not in dutyd.runtime.roster.people:
        raise LoginRequired("log in first")
    if needs_touch(viewer.web_session, now):
        async with dutyd.sessions.begin() as session:
            await touch_session(session, viewer.web_session.id, now)
    if len(_recent) > 1000:
        _recent.clear()
    _recent[cookie] = (now, viewer)
    return viewer


def forget_session(cookie: str | None) -> None:
    """At logout: this process trusts the cookie no more."""
    _recent.pop(cookie or "", None)


SessionViewerDep = Annotated[Viewer, Depends(get_session_viewer)]


async def get_viewer(viewer: SessionViewerDep) -> Viewer:
    if not viewer.principal.grants:
        raise ConsoleForbidden(f"{viewer.person_id} holds no role: ask an admin for one")
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
MAX_FIELDS = 200


async def _csrf_matches(request: Request, viewer: Viewer) -> None:
    form = await request.form(max_fields=MAX_FIELDS, max_files=0)
    given = form.get("csrf") or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), viewer.csrf.encode()):
        raise ConsoleForbidden("the form's security token is missing or stale: reload the page")


async def check_csrf(request: Request, viewer: ViewerDep) -> Viewer:
    """A form (or an htmx request) must carry the session's CSRF token."""
    await _csrf_matches(request, viewer)
    return viewer


async def check_session_csrf(request: Request, viewer: SessionViewerDep) -> Viewer:
    await _csrf_matches(request, viewer)
    return viewer


FormViewer = Annotated[Viewer, Depends(check_csrf)]
SessionFormViewer = Annotated[Viewer, Depends(check_session_csrf)]
