"""A transport that keeps what it is given: for engine tests that need no provider."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from service.notify.transport import OutgoingMessage, Receipt


@dataclass(eq=False)
class RecordingTransport:
    name: str = "recording"
    sent: list[OutgoingMessage] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> Receipt:
        self.sent.append(message)
        return Receipt(transport=self.name, provider_id=f"rec-{message.id}", state="delivered")

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        return None

    async def close(self) -> None:
        return None
