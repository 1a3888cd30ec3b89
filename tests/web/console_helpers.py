"""Console accounts for tests, and an in-process client logged in as one."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from service.api.app import create_api
from service.app import Dutyd
from service.auth import accounts
from service.auth.policy import Grant

PASSWORD = "correct horse battery"


async def make_account(dutyd: Dutyd, person: str, *grants: Grant) -> str:
    """An account for `person` with a password set through an invitation; its secret."""
    now = dutyd.clock.now()
    roster = dutyd.runtime.roster
    async with dutyd.sessions.begin() as session:
        account = await accounts.ensure_account(
            session, person, known_people=set(roster.people), now=now
        )
        for grant in grants:
            await accounts.grant_role(
                session, account, grant, known_units=set(roster.units), by="test", now=now
            )
        secret = await accounts.create_invite(
            session, account, by="test", now=now, valid=timedelta(hours=1)
        )
    return secret


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def console_client(dutyd: Dutyd, person: str, *grants: Grant) -> httpx.AsyncClient:
    """A client that accepted its invitation and so is logged in."""
    secret = await make_account(dutyd, person, *grants)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(dutyd, manage_lifecycle=False)),
        base_url="http://dutyd.test",
    )
    form = await client.get(f"/console/invite/{secret}")
    answer = await client.post(
        f"/console/invite/{secret}",
        data={"password": PASSWORD, "password_again": PASSWORD, "csrf": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    return client
