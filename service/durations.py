"""Human durations such as `30m`, `2h`, `1h30m`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)([dhms])")
_WHOLE = re.compile(r"^(?:\d+[dhms])+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or not _WHOLE.match(value.strip()):
        raise ValueError(
            f"expected a duration such as '30m', '2h', '1h30m' or '7d', found {value!r}"
        )
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value.strip()))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest readable form: `30m`, `1h30m`, `24h`, `7d` (days only from 48h up)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    units = (
        _UNIT_SECONDS
        if seconds >= 2 * 86400
        else {k: v for k, v in _UNIT_SECONDS.items() if k != "d"}
    )
    for unit, size in units.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
