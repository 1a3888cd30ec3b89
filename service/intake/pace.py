"""Each source's own rate limit: a token bucket per source in this process, so that one
noisy source is told to slow down (429) without holding up the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Bucket:
    per_minute: int
    tokens: float
    at: datetime


@dataclass
class SourcePace:
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, source: str, per_minute: int, count: int, now: datetime) -> float | None:
        """Take `count` reports from the source's allowance: None if they may come in, else
        the seconds after which they may."""
        bucket = self.buckets.get(source)
        if bucket is None or bucket.per_minute != per_minute:
            bucket = self.buckets[source] = Bucket(per_minute, float(per_minute), now)
        rate = per_minute / 60.0
        bucket.tokens = min(
            float(per_minute), bucket.tokens + (now - bucket.at).total_seconds() * rate
        )
        bucket.at = now
        if count <= bucket.tokens:
            bucket.tokens -= count
            return None
        return max((count - bucket.tokens) / rate, 1.0)
