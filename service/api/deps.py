"""Dependencies the routers share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.access import check_route_access
from service.app import Dutyd
from service.audit.context import Actor, set_actor
from service.auth.tables import ApiTokenRow
from service.auth.tokens import authenticate
from service.store.base import MAX_MESSAGE_ID, MAX_ROW_ID
from service.web.context import client_address

bearer = HTTPBearer(auto_error=False)


def get_dutyd(request: Request) -> Dutyd:
    return request.app.state.dutyd


DutydDep = Annotated[Dutyd, Depends(get_dutyd)]


async def get_session(dutyd: DutydDep) -> AsyncIterator[AsyncSession]:
    async with dutyd.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_read_session(dutyd: DutydDep) -> AsyncIterator[AsyncSession]:
    async with dutyd.reads.begin() as session:
        yield session


# For handlers that only read: on SQLite they do not wait for the write lock.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


async def get_caller(
    request: Request,
    dutyd: DutydDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiTokenRow:
    """The token's holder, once the access policy allows it this route (api.access)."""
    async with dutyd.reads() as session:
        token = await authenticate(session, credentials.credentials if credentials else None)
    check_route_access(request, token)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    set_actor(
        Actor(
            token.name,
            "token",
            client_address(request),
            f"{request.method} {route}",
            dutyd.clock.now,
        )
    )
    return token


Caller = Annotated[ApiTokenRow, Depends(get_caller)]


# A larger id than a row can have would otherwise reach the database driver and fail there.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A record's id.")]
MessageId = Annotated[int, Query(ge=1, le=MAX_MESSAGE_ID)]
MessageRowId = Annotated[int, Path(ge=1, le=MAX_MESSAGE_ID, description="A message's id.")]
PAGE_MAX = 1000
PageSize = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"How many (at most {PAGE_MAX}).")]
