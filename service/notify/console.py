"""A transport that prints messages: the default when no provider is configured."""

from __future__ import annotations

import sys
from collections.abc import Collection
from datetime import datetime
from typing import TextIO

from service.notify.transport import OutgoingMessage, Receipt


class ConsoleTransport:
    """Prints each message and records it as delivered to the console, nowhere else."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: OutgoingMessage) -> Receipt:
        stream = self._stream or sys.stdout
        subject = f" | {message.subject}" if message.subject else ""
        stream.write(
            f"[console {message.channel.value} #{message.id} -> {message.address}]{subject}\n"
            f"{message.body}\n"
        )
        stream.flush()
        return Receipt(transport=self.name, provider_id=None, state="delivered")

    async def find_sent(
        self, message: OutgoingMessage, since: datetime, exclude: Collection[str] = ()
    ) -> Receipt | None:
        return None

    async def close(self) -> None:
        return None
