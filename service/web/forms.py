"""Forms of the console: their values, times typed on a unit's clocks, and the errors of
a refused form, each by its field."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import ValidationError

from service.errors import DutydError, InvalidInput, UnknownValue

MAX_FIELDS = 200


async def read_form(request: Request) -> dict[str, str]:
    """The form's text fields, parsed once per request with the console's bounds (the
    request keeps it: the access check, the CSRF check and the handler share it)."""
    form = await request.form(max_fields=MAX_FIELDS, max_files=0)
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def form_values(request: Request) -> dict[str, Any]:
    return {k: v for k, v in (await read_form(request)).items() if k != "csrf"}


def local_input(at: datetime, zone: ZoneInfo | None) -> str:
    """An instant as a datetime-local field shows it, on the unit's clocks."""
    return at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def parse_local(text: str, zone: ZoneInfo | None, field: str) -> datetime | None:
    """A datetime-local value, read on the unit's clocks; empty means none."""
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not a date and time: {text!r}", field=field) from None
    return naive if naive.tzinfo else naive.replace(tzinfo=zone)


def field_errors(exc: Exception) -> dict[str, str]:
    """A refusal as {field: what is wrong}; a refusal of no one field under '_'."""
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if p not in ("casualties", "intake")]
            name = loc[0] if loc else "_"
            found.setdefault(name, err["msg"].removeprefix("Value error, "))
        return found
    if isinstance(exc, UnknownValue):
        return {exc.field: str(exc)}
    if isinstance(exc, InvalidInput):
        return {exc.field or "_": str(exc)}
    if isinstance(exc, DutydError | ValueError):
        return {"_": str(exc)}
    return {"_": repr(exc)}
