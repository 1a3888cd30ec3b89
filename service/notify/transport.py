"""The one small interface every notification transport implements."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
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
    person_id: str | None = None
    language: str = "zh"
    broadcast_id: int | None = None


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

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        """After a crash mid-send: did the provider accept this message after `since`?

        `exclude` are provider ids that belong to other messages (the same text may well
        have gone to the same person since, for the next step): never this one's.
        Transports that cannot tell return None, and the message is sent again.
        """
        ...

    async def close(self) -> None: ...


Transports = dict[Channel, Transport]
