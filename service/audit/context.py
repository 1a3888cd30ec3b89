"""Who is acting, for the record: set at the edge (an API token, a console login, a
command) for the request or command, read when the change is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    name: str
    kind: str  # person, token, cli, system
    address: str = ""
    action: str = ""
    now: Callable[[], datetime] = field(default=_utc_now, compare=False)  # the engine's clock


_acting: ContextVar[Actor | None] = ContextVar("dutyd_audit_actor", default=None)


def set_actor(actor: Actor) -> None:
    """For the rest of this request or command (a task's context ends with it)."""
    _acting.set(actor)


def current_actor() -> Actor | None:
    return _acting.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)
