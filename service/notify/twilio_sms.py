"""SMS through Twilio's official client, asynchronously."""

from __future__ import annotations

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from service.errors import DeliveryFailed
from service.notify.transport import OutgoingMessage, Receipt

RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}


class TwilioSmsTransport:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        api_base_url: str,
        timeout_seconds: float = 15,
    ) -> None:
        # The aiohttp session behind the client must be made inside the running loop.
        self._http = AsyncTwilioHttpClient(timeout=timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_base_url.rstrip("/")
        self._from = from_number
        self._service = messaging_service_sid

    async def send(self, message: OutgoingMessage) -> Receipt:
        sender = (
            {"messaging_service_sid": self._service} if self._service else {"from_": self._from}
        )
        try:
            sent = await self._client.messages.create_async(
                to=message.address, body=message.body, **sender
            )
        except TwilioRestException as exc:
            raise DeliveryFailed(
                f"twilio refused: HTTP {exc.status} code {exc.code}: {exc.msg}",
                retryable=exc.status in RETRYABLE_STATUSES,
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryFailed(f"twilio unreachable: {exc!r}", retryable=True) from exc
        return Receipt(transport=self.name, provider_id=sent.sid, state="sent")

    async def close(self) -> None:
        await self._http.close()
