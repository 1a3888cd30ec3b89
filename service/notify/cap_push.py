"""Pushing CAP to downstream receivers (a broadcaster, a TV station's crawler, a
cell-broadcast gateway): an HTTP POST of the message to the receiver's address. What
the receiver answers is its acknowledgement, recorded like any delivery."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import httpx

from service.errors import DeliveryFailed
from service.notify.transport import OutgoingMessage, Receipt

CAP_TYPE = "application/cap+xml"


class CapPushTransport:
    name = "cap-push"

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def send(self, message: OutgoingMessage) -> Receipt:
        try:
            answer = await self._client.post(
                message.address,
                content=message.body.encode("utf-8"),
                headers={"content-type": f"{CAP_TYPE}; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"receiver unreachable: {exc!r}", retryable=True) from None
        if answer.is_success:
            return Receipt(
                transport=self.name, provider_id=f"http {answer.status_code}", state="delivered"
            )
        retry_after = answer.headers.get("retry-after")
        raise DeliveryFailed(
            f"receiver answered {answer.status_code}: {answer.text[:200]}",
            retryable=answer.status_code == 429 or answer.status_code >= 500,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        # A receiver cannot be asked; CAP receivers drop a repeat by its identifier.
        return None

    async def close(self) -> None:
        await self._client.aclose()
