"""What the outbox tells the rest of dutyd: the port's way back up.

The outbox knows messages, people and addresses, never incidents. What became of a
message, a fail-over to another contact, a person nobody could reach: each is reported
to a `DeliveryObserver` in the same transaction as the state change, and the side that
cares (the incidents' timeline, the duty office; `flows.delivery`) implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class DeliveryResult:
    """A message handed over, or given up on, and what it was about."""

    message_id: int
    person_id: str
    channel: str
    address: str
    # The incident the message was about; for a digest, each incident bundled into it.
    about: tuple[int, ...]
    digest: bool
    failed: bool
    detail: str  # "sent via twilio (SM…)", "FAILED after 6 tries: …"


@dataclass(frozen=True)
class FailOver:
    """A message that will not arrive, and the person's next contact it goes to instead."""

    failed_message_id: int
    person_id: str
    person_name: str
    failed_channel: str
    next_channel: str
    next_address: str
    incident_id: int | None


class DeliveryObserver(Protocol):
    async def results(
        self, session: AsyncSession, results: list[DeliveryResult], now: datetime
    ) -> None:
        """Messages handed over or failed for good (a batch, in one transaction)."""
        ...

    async def failed_over(self, session: AsyncSession, change: FailOver, now: datetime) -> None:
        """A failed message goes to the person's next contact."""
        ...

    async def unreachable(
        self, session: AsyncSession, *, person_id: str, incident_id: int | None, now: datetime
    ) -> None:
        """Every contact of the person failed (reported once per person and incident)."""
        ...


class IgnoreResults:
    """An observer for an outbox that nobody above listens to (tests of the port alone)."""

    async def results(
        self, session: AsyncSession, results: list[DeliveryResult], now: datetime
    ) -> None:
        return None

    async def failed_over(self, session: AsyncSession, change: FailOver, now: datetime) -> None:
        return None

    async def unreachable(
        self, session: AsyncSession, *, person_id: str, incident_id: int | None, now: datetime
    ) -> None:
        return None
