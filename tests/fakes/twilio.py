"""A local fake of Twilio's REST API, reached by the real `twilio` client over HTTP.

It accepts messages and calls, lists messages, can be told to fail (a queue of errors,
or a random share of transient ones), and signs the webhooks it sends to dutyd the way
Twilio does (X-Twilio-Signature), so dutyd's check is tested for real.

It also runs as its own process, for the crash harness (`benchmarks/crash_harness.py`):

    python -m tests.fakes.twilio --port P --fail-rate 0.3 --record FILE [--kill-file F]

There it fails about `--fail-rate` of the requests (5xx, 429 with Retry-After, or a hang
longer than dutyd's 15 s timeout, answered 503 and never accepted), appends every
accepted message and call to FILE as a JSON line, flushed and fsync'ed before it answers
(so the record survives the death of any process), and, when the harness arms it by
writing "PID before|after" to `--kill-file`, sends SIGKILL to PID at the next send or
call it receives: before accepting it, or after accepting and recording it but before
answering (the window in which only the provider knows the message went out).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from twilio.request_validator import RequestValidator

from service.notify.twilio_sms import TwilioClient

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
    status_callback: str | None = None
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    # None while Twilio still has it queued (as real Twilio reports it), else when sent.
    date_sent: datetime | None = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class PlacedCall:
    sid: str
    to: str
    twiml: str


@dataclass
class FakeTwilio:
    """`fail_next` queues (status, code, message) answers; `failure_rate` fails at random."""

    sent: list[SentSms] = field(default_factory=list)
    calls: list[PlacedCall] = field(default_factory=list)
    fail_next: list[tuple[int, int, str]] = field(default_factory=list)
    retry_after: int = 30  # seconds, sent with a queued 429
    hold_in_queue: bool = False  # accepted messages stay "queued", with no DateSent yet
    failure_rate: float = 0.0
    stall_next: int = 0  # answer this many requests only after `stall_seconds`, or at stop()
    stall_seconds: float = 2.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    requests: int = 0
    url: str = ""
    # Opt-in, for the crash harness (the defaults keep the behaviour tests rely on):
    # a random 429 carries this Retry-After; this share of random failures is a hang.
    random_retry_after: int | None = None
    hang_share: float = 0.0
    hang_seconds: float = 16.0  # longer than dutyd's 15 s Twilio timeout
    record: Path | None = None  # every accepted message and call, one JSON line each
    kill_file: Path | None = None  # "PID before|after": SIGKILL PID at the next send
    port: int = 0
    _runner: web.AppRunner | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        base = "/2010-04-01/Accounts/{sid}"
        app.router.add_post(f"{base}/Messages.json", self._create_message)
        app.router.add_get(f"{base}/Messages.json", self._list_messages)
        app.router.add_post(f"{base}/Calls.json", self._create_call)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        self._release.set()  # stalled requests are answered now, not after stall_seconds
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stall(self) -> None:
        """A provider that stops answering: the client gives up first, a timeout."""
        if self.stall_next:
            self.stall_next -= 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.stall_seconds)

    async def _refusal(self, request: web.Request) -> web.Response | None:
        await self._stall()
        self.requests += 1
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}" or (
            request.match_info["sid"] != ACCOUNT_SID
        ):
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        if self.fail_next:
            status, code, message = self.fail_next.pop(0)
            return web.json_response(
                {"code": code, "message": message, "status": status},
                status=status,
                headers={"Retry-After": str(self.retry_after)} if status == 429 else None,
            )
        if self.failure_rate and self.rng.random() < self.failure_rate:
            if self.hang_share and self.rng.random() < self.hang_share:
                # Stops answering: the client times out; nothing was accepted.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), self.hang_seconds)
                status = 503
            else:
                status = self.rng.choice([500, 503, 429])
            headers = None
            if status == 429 and self.random_retry_after is not None:
                headers = {"Retry-After": str(self.random_retry_after)}
            return web.json_response(
                {"code": 20500, "message": "flaky", "status": status},
                status=status,
                headers=headers,
            )
        return None

    def _armed_kill(self) -> tuple[int, str] | None:
        """The harness's order to kill the daemon at this request, taken once."""
        if self.kill_file is None:
            return None
        taken = self.kill_file.with_name(self.kill_file.name + ".taken")
        try:
            os.rename(self.kill_file, taken)  # atomic: one request takes it
        except FileNotFoundError:
            return None
        pid, mode = taken.read_text().split()
        taken.unlink()
        return int(pid), mode

    def _kill(self, pid: int, mode: str, to: str, message_id: str | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._append(
            {"event": "kill", "mode": mode, "pid": pid, "to": to, "message_id": message_id}
        )

    def _append(self, entry: dict[str, Any]) -> None:
        if self.record is None:
            return
        entry["at"] = time.time()
        with self.record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def _resource(self, sms: SentSms) -> dict[str, Any]:
        return {
            "sid": sms.sid,
            "account_sid": ACCOUNT_SID,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "status": "queued" if sms.date_sent is None else "sent",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": format_datetime(sms.date_created),
            "date_sent": format_datetime(sms.date_sent) if sms.date_sent else None,
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sms.sid}.json",
        }

    async def _create_message(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        form = await request.post()
        kill = self._armed_kill()
        if kill is not None and kill[1] == "before":
            self._kill(*kill, str(form["To"]), _message_id(form.get("StatusCallback")))
            return web.json_response({"code": 20500, "message": "x", "status": 503}, status=503)
        sms = SentSms(
            sid=f"SM{next(self._ids):032d}",
            to=str(form["To"]),
            body=str(form["Body"]),
            sender=str(form["From"]) if "From" in form else None,
            messaging_service_sid=(
                str(form["MessagingServiceSid"]) if "MessagingServiceSid" in form else None
            ),
            status_callback=str(form["StatusCallback"]) if "StatusCallback" in form else None,
        )
        if self.hold_in_queue:
            sms.date_sent = None
        self.sent.append(sms)
        self._append(
            {
                "event": "accepted",
                "kind": "sms",
                "sid": sms.sid,
                "to": sms.to,
                "body": sms.body,
                "message_id": _message_id(sms.status_callback),
            }
        )
        if kill is not None:
            self._kill(*kill, sms.to, _message_id(sms.status_callback))
        return web.json_response(self._resource(sms), status=201)

    async def _list_messages(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        # Twilio's filters: To, DateSent (a day), DateSent< and DateSent> (a moment,
        # inclusive); newest first, PageSize at a time. A queued message has no DateSent.
        query = request.query
        to = query.get("To")
        after, before = _moment(query.get("DateSent>")), _moment(query.get("DateSent<"))
        day = query.get("DateSent")
        found = [
            s
            for s in sorted(self.sent, key=lambda s: s.date_created, reverse=True)
            if (to is None or s.to == to)
            and (after is None or (s.date_sent is not None and s.date_sent >= after))
            and (before is None or (s.date_sent is not None and s.date_sent <= before))
            and (day is None or (s.date_sent is not None and s.date_sent.date().isoformat() == day))
        ][: int(query.get("PageSize", "50"))]
        return web.json_response(
            {
                "messages": [self._resource(s) for s in found],
                "page": 0,
                "page_size": int(query.get("PageSize", "50")),
                "start": 0,
                "end": len(found),
                "uri": request.path,
                "first_page_uri": request.path,
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    async def _create_call(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        form = await request.post()
        callback = form.get("StatusCallback")
        kill = self._armed_kill()
        if kill is not None and kill[1] == "before":
            self._kill(*kill, str(form["To"]), _message_id(callback))
            return web.json_response({"code": 20500, "message": "x", "status": 503}, status=503)
        call = PlacedCall(
            sid=f"CA{next(self._ids):032d}", to=str(form["To"]), twiml=str(form.get("Twiml", ""))
        )
        self.calls.append(call)
        self._append(
            {
                "event": "accepted",
                "kind": "call",
                "sid": call.sid,
                "to": call.to,
                "body": call.twiml,
                "message_id": _message_id(callback),
            }
        )
        if kill is not None:
            self._kill(*kill, call.to, _message_id(callback))
        return web.json_response(
            {
                "sid": call.sid,
                "account_sid": ACCOUNT_SID,
                "to": call.to,
                "status": "queued",
                "api_version": "2010-04-01",
            },
            status=201,
        )


def twilio_client(
    fake: FakeTwilio, *, auth_token: str = AUTH_TOKEN, timeout_seconds: float = 15
) -> TwilioClient:
    """dutyd's Twilio client, pointed at the fake (make it inside the running loop)."""
    return TwilioClient(
        account_sid=ACCOUNT_SID,
        auth_token=auth_token,
        api_base_url=fake.url,
        timeout_seconds=timeout_seconds,
    )


def _message_id(callback: Any) -> str | None:
    """dutyd's message id, from the status callback it passes (`...?m=<id>`)."""
    if not callback:
        return None
    found = parse_qs(urlsplit(str(callback)).query).get("m")
    return found[0] if found else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def twilio_signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature, computed as Twilio computes it."""
    return RequestValidator(token).compute_signature(url, params)


async def _serve(fake: FakeTwilio) -> None:
    await fake.start()
    print(f"fake twilio listening on {fake.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio REST API in its own process.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests failed")
    parser.add_argument("--hang-share", type=float, default=0.1, help="share of failures that hang")
    parser.add_argument("--hang-seconds", type=float, default=16.0)
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After of a 429 (s)")
    parser.add_argument("--record", type=Path, help="append accepted messages here (JSON lines)")
    parser.add_argument("--kill-file", type=Path, help='"PID before|after": kill PID at a send')
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        failure_rate=args.fail_rate,
        hang_share=args.hang_share,
        hang_seconds=args.hang_seconds,
        random_retry_after=args.retry_after,
        record=args.record,
        kill_file=args.kill_file,
        rng=random.Random(args.seed),
        port=args.port,
    )
    asyncio.run(_serve(fake))


if __name__ == "__main__":
    main()
