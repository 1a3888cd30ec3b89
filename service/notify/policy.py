"""How hard the outbox tries: attempts, backoff with jitter, digests and the rate limit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from service.config import Settings

RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class DeliveryPolicy:
    # Quick tries: after this many a message also fails over to the person's next contact,
    # while it goes on being retried until `retry_for` has passed since it was queued.
    max_attempts: int = 6
    retry_for: timedelta = timedelta(minutes=30)
    backoff: timedelta = timedelta(seconds=10)
    backoff_max: timedelta = timedelta(minutes=10)
    digest_threshold: int = 3
    rate_limit_per_minute: int = 6
    # What comes due for a person this soon after their last message waits and goes with
    # what else comes meanwhile (pacing): a burst of new incidents is a digest or two.
    digest_gather: timedelta = timedelta(seconds=0.5)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.delivery_max_attempts,
            retry_for=timedelta(minutes=settings.delivery_retry_minutes),
            backoff=timedelta(seconds=settings.delivery_backoff_seconds),
            backoff_max=timedelta(seconds=settings.delivery_backoff_max_seconds),
            digest_threshold=settings.digest_threshold,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            digest_gather=timedelta(seconds=settings.digest_gather_seconds),
        )

    def retry_delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> timedelta:
        base = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        delay = base * rng.uniform(0.5, 1.0)  # jitter: retries of many messages spread out
        if retry_after is not None:
            # At least what the provider asked for, but no longer than any backoff: a
            # warning must not wait an hour because a provider said so.
            delay = max(delay, min(timedelta(seconds=retry_after), self.backoff_max))
        return delay
