"""An HTTP client for the real FastAPI app, in-process, with a token of a given role."""

from __future__ import annotations

import httpx

from service.api.app import create_api
from service.app import Dutyd
from service.auth.tokens import Role, create_token


async def api_client(dutyd: Dutyd, role: Role, name: str | None = None) -> httpx.AsyncClient:
    async with dutyd.sessions.begin() as session:
        token = await create_token(
            session, name=name or f"{role.value}-desk", role=role, now=dutyd.clock.now()
        )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
        base_url="http://dutyd.test",
        headers={"Authorization": f"Bearer {token}"},
    )
