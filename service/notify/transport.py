"""The one small interface every notification transport implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from service.catalog import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: Channel
    address: str
    subject: str
    body: str
    incident_id: int | None = None


@dataclass(frozen=True)
class Receipt:
    """What a transport knows once it has handed a message over."""

    transport: str
    provider_id: str | None
    state: Literal["sent", "delivered"]


class Transport(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> Receipt:
        """Hand the message to the provider; raise DeliveryFailed(retryable=...) if it refuses."""
        ...

    async def close(self) -> None: ...


Transports = dict[Channel, Transport]
