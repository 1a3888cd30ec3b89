"""A local fake of Twilio's REST API, reached by the real `twilio` client over HTTP."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field

from aiohttp import web

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"


@dataclass
class SentSms:
    sid: str
    to: str
    body: str
    sender: str | None
    messaging_service_sid: str | None


@dataclass
class FakeTwilio:
    """Accepts Messages.json posts; `fail_next` queues error statuses to answer with first."""

    sent: list[SentSms] = field(default_factory=list)
    fail_next: list[tuple[int, int, str]] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _create_message(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request) or request.match_info["sid"] != ACCOUNT_SID:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        if self.fail_next:
            status, code, message = self.fail_next.pop(0)
            return web.json_response(
                {"code": code, "message": message, "status": status}, status=status
            )
        form = await request.post()
        sid = f"SM{next(self._ids):032d}"
        sms = SentSms(
            sid=sid,
            to=str(form["To"]),
            body=str(form["Body"]),
            sender=str(form["From"]) if "From" in form else None,
            messaging_service_sid=(
                str(form["MessagingServiceSid"]) if "MessagingServiceSid" in form else None
            ),
        )
        self.sent.append(sms)
        return web.json_response(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": sms.to,
                "from": sms.sender,
                "body": sms.body,
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            },
            status=201,
        )
