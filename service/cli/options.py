"""Options several commands share, and reading their values."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from service.cli.access import acting_person
from service.cli.runner import fail
from service.clock import SystemClock

ByOption = Annotated[str | None, typer.Option("--by", help="Who does it (default: login name).")]

AtOption = Annotated[
    datetime | None, typer.Option(help="Instant (ISO 8601 with offset); default now.")
]


def who(given: str | None) -> str:
    """Who acts: the person `--as` names (a different `--by` is refused: the policy
    checked that person's roles), else the one named, else whoever is logged in."""
    acting = acting_person()
    if acting is not None:
        if given is not None and given != acting:
            raise fail(f"--by {given} differs from --as {acting}: a command acts as one person")
        return acting
    return given or getpass.getuser()


def instant(at: datetime | None) -> datetime:
    """An instant given on the command line (now if omitted); it must carry an offset,
    since units live in different zones and guessing one would shift a shift."""
    chosen = at or SystemClock().now()
    if chosen.tzinfo is None:
        raise fail("times need a UTC offset, e.g. 2026-07-01T03:00:00+08:00")
    return chosen


def period(start: datetime, end: datetime, timezone: str) -> tuple[datetime, datetime]:
    """A period given on the command line; dates and times without an offset are read in
    the duty office's zone, which is what an officer typing a date means."""
    zone = ZoneInfo(timezone)
    begin, finish = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (start, end))
    return begin, finish
