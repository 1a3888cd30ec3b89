"""SMS and voice calls through Twilio's official client, asynchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from service.errors import DeliveryFailed
from service.notify.sms_text import DIGEST_SEGMENTS, fit_sms
from service.notify.transport import OutgoingMessage, Receipt

T = TypeVar("T")
RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}
# What a call to Twilio can raise about the provider (not about our own code).
PROVIDER_ERRORS = (TwilioException, aiohttp.ClientError, TimeoutError, OSError)
VOICE_LANGUAGES = {"zh": "cmn-CN", "en": "en-US"}
VOICE_PROMPT = {
    "zh": "按1确认收到，按2升级上报。",
    "en": "Press 1 to acknowledge, press 2 to escalate.",
}


# The headers of the response to the call running in this task (see TwilioClient.call):
# the client's exceptions carry no headers, and a 429 says in Retry-After when to retry.
_response_headers: ContextVar[dict[str, str] | None] = ContextVar(
    "twilio_response_headers", default=None
)


class _HeaderKeepingHttpClient(AsyncTwilioHttpClient):
    async def request(self, *args: Any, **kwargs: Any) -> Response:
        response = await super().request(*args, **kwargs)
        seen = _response_headers.get()
        if seen is not None and response.headers:
            seen.update({str(k).lower(): str(v) for k, v in response.headers.items()})
        return response


def with_message_id(callback: str | None, message: OutgoingMessage) -> str | None:
    """The status callback names our message, so a report that arrives before we have
    recorded Twilio's id for it can still be matched."""
    return f"{callback}?m={message.id}" if callback else None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds (Twilio sends seconds; an HTTP date is not expected)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class TwilioClient:
    """One Twilio REST client (async HTTP) shared by the SMS and voice transports."""

    def __init__(
        self, *, account_sid: str, auth_token: str, api_base_url: str, timeout_seconds: float = 15
    ) -> None:
        # The aiohttp session behind the client must be made inside the running loop.
        self.http = _HeaderKeepingHttpClient()
        self.timeout = timeout_seconds
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.client.api.base_url = api_base_url.rstrip("/")

    async def call(self, request: Awaitable[T]) -> T:
        """One API call, bounded in time: the client's own timeout never reaches aiohttp, and
        a provider that stops answering must not hold a warning for minutes. Whatever goes
        wrong with the provider leaves as DeliveryFailed, classified by `classify`."""
        headers: dict[str, str] = {}
        token = _response_headers.set(headers)  # wait_for's task sees this same dict
        try:
            return await asyncio.wait_for(request, timeout=self.timeout)
        except PROVIDER_ERRORS as exc:
            raise classify(exc, retry_after_seconds(headers.get("retry-after"))) from exc
        finally:
            _response_headers.reset(token)

    async def close(self) -> None:
        await self.http.close()


LOOKUP_PAGE_SIZE = 1000  # Twilio's largest page


def classify(exc: BaseException, retry_after: float | None = None) -> DeliveryFailed:
    """The one place that decides whether a Twilio failure may be retried, for every call
    (send, lookup, voice call): HTTP 408, 429 and 5xx, network errors and timeouts may;
    any other refusal (400 invalid number, 401 credentials, ...) may not."""
    if isinstance(exc, TwilioRestException):
        status: int | None = exc.status
        detail = f"HTTP {exc.status} code {exc.code}: {exc.msg}"
    elif isinstance(exc, TwilioException):
        # A list call answered with anything but 200: twilio raises a plain
        # TwilioException("Unable to fetch page", response), without status or code.
        response = next((a for a in exc.args if isinstance(a, Response)), None)
        status = response.status_code if response is not None else None
        detail = f"HTTP {status}: {response.text}" if response is not None else repr(exc)
    else:
        return DeliveryFailed(f"twilio unreachable: {exc!r}", retryable=True)
    retryable = status in RETRYABLE_STATUSES
    return DeliveryFailed(
        f"twilio refused: {detail}",
        retryable=retryable,
        retry_after=retry_after if retryable else None,
    )


class TwilioSmsTransport:
    name = "twilio"

    def __init__(
        self,
        twilio: TwilioClient,
        *,
        from_number: str | None,
        messaging_service_sid: str | None,
        status_callback: str | None = None,
    ) -> None:
        self._twilio = twilio
        self._sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self._status_callback = status_callback

    async def send(self, message: OutgoingMessage) -> Receipt:
        sent = await self._twilio.call(
            self._twilio.client.messages.create_async(
                to=message.address,
                body=fit_sms(message.body, DIGEST_SEGMENTS if message.subject else 4),
                status_callback=with_message_id(self._status_callback, message),
                **self._sender,
            )
        )
        return Receipt(transport=self.name, provider_id=sent.sid, state="sent")

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        """Twilio keeps what it accepted: look for this text to this number created since
        the claim. Not filtered by DateSent: a message Twilio still has queued has none."""
        found = await self._twilio.call(self._created_since(message.address, since))
        body = fit_sms(message.body, DIGEST_SEGMENTS if message.subject else 4)
        # Twilio lists newest first; the earliest candidate is the one sent for this
        # message, later ones with the same text were sent for later messages.
        for item in reversed(list(found)):
            created = item.date_created
            if item.sid in exclude or item.body != body:
                continue
            if created is None or created >= since:
                return Receipt(transport=self.name, provider_id=item.sid, state="sent")
        return None

    async def _created_since(self, to: str, since: datetime) -> list[Any]:
        """Every message to `to` created since `since`, newest first, in pages of the most
        Twilio gives: in a storm one officer gets hundreds, and the one looked for must not
        fall off the end of a short first page (it would then be sent again)."""
        found = []
        stream = await self._twilio.client.messages.stream_async(to=to, page_size=LOOKUP_PAGE_SIZE)
        async for item in stream:
            if item.date_created is not None and item.date_created < since:
                break  # newest first: the rest are older still
            found.append(item)
        return found

    async def close(self) -> None:
        await self._twilio.close()


def call_twiml(message: OutgoingMessage, gather_url: str, repeat: int = 2) -> str:
    """The call: the message read aloud, repeated; 1 acknowledges, 2 escalates.

    A digest (about several incidents, so about none in particular) is only read: keys
    could not say which incident they answer."""
    language = VOICE_LANGUAGES.get(message.language, "cmn-CN")
    response = VoiceResponse()
    if message.incident_id is None:
        for _ in range(repeat):
            response.say(message.body, language=language)
        return str(response)
    gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    for _ in range(repeat):
        gather.say(message.body, language=language)
        gather.say(VOICE_PROMPT.get(message.language, VOICE_PROMPT["zh"]), language=language)
    response.append(gather)
    response.say(VOICE_PROMPT.get(message.language, VOICE_PROMPT["zh"]), language=language)
    return str(response)


class TwilioVoiceTransport:
    name = "twilio-voice"

    def __init__(
        self,
        twilio: TwilioClient,
        *,
        from_number: str | None,
        public_base_url: str,
        status_callback: str | None = None,
    ) -> None:
        self._twilio = twilio
        self._from = from_number
        self._base = public_base_url.rstrip("/")
        self._status_callback = status_callback

    async def send(self, message: OutgoingMessage) -> Receipt:
        if not self._from:
            raise DeliveryFailed("voice calls need twilio_from_number", retryable=False)
        twiml = call_twiml(message, f"{self._base}/twilio/voice/{message.id}")
        call = await self._twilio.call(
            self._twilio.client.calls.create_async(
                to=message.address,
                from_=self._from,
                twiml=twiml,
                status_callback=with_message_id(self._status_callback, message),
            )
        )
        return Receipt(transport=self.name, provider_id=call.sid, state="sent")

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        return None  # a repeated call after a crash is better than a missed one

    async def close(self) -> None:
        return None  # the shared client is closed by the SMS transport
