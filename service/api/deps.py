"""Dependencies the routers share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import Dutyd
from service.auth.tables import ApiTokenRow
from service.auth.tokens import authenticate

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
    dutyd: DutydDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiTokenRow:
    async with dutyd.reads() as session:
        return await authenticate(session, credentials.credentials if credentials else None)


Caller = Annotated[ApiTokenRow, Depends(get_caller)]
