"""Errors dutyd raises on purpose.

    DutydError                      base of all of them
    ├── ConfigError                 settings file or environment is wrong (config.load_settings)
    ├── InvalidInput                a request names something that does not exist or does not fit
    │   ├── UnknownValue            unknown unit, category, event type, level or person
    │   └── NotFound                an incident or other record with that id does not exist
    ├── Conflict                    the record is not in a state that allows this (a warning
    │                               already published, a draft no longer a draft)
    ├── PlanInvalid                 plan files do not load (plans.loader); carries every problem
    ├── RosterInvalid               roster file does not load (roster.loader); carries every problem
    ├── NoPlanCovers                no loaded plan covers an incident (plans.selection)
    ├── StoreUnavailable            the database is missing, replaced or cannot commit (store)
    ├── AuthError                   missing, unknown or revoked API token (auth.tokens)
    │   └── Forbidden               the token's role may not do this
    └── DeliveryFailed              a transport could not hand a message over (notify transports)

The API maps them to HTTP statuses in one place (api/errors.py); the CLI prints their
message and exits non-zero.
"""

from __future__ import annotations

from pydantic import ValidationError


class DutydError(Exception):
    """Base of every error dutyd raises on purpose."""


class ConfigError(DutydError):
    """Raised by config.load_settings when a setting is missing, malformed or misplaced."""


class InvalidInput(DutydError):
    """Raised by domain services when a request does not fit; `field` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def invalid_from(exc: ValidationError, what: str) -> InvalidInput:
    """A pydantic ValidationError raised while building `what` from a request's values,
    as InvalidInput naming the field and saying what is wrong with it (a 422, not a 500)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    first = exc.errors()[0]["loc"] if exc.errors() else ()
    return InvalidInput(
        f"invalid {what}: " + "; ".join(problems),
        field=".".join(str(part) for part in first) or None,
    )


class UnknownValue(InvalidInput):
    """Raised when a request names a unit, category, type, level or person nobody knows."""

    def __init__(self, field: str, value: object, known: list[str] | None = None) -> None:
        hint = f"; known: {', '.join(known)}" if known else ""
        super().__init__(f"unknown {field.replace('_', ' ')} {value!r}{hint}", field=field)
        self.value = value


class NotFound(InvalidInput):
    """Raised when a record asked for by id does not exist."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found", field=None)


class Conflict(DutydError):
    """Raised when a record's state does not allow the step asked for (HTTP 409)."""


class _ProblemList(DutydError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class PlanInvalid(_ProblemList):
    """Raised by plans.loader with every problem found in a set of plan files."""


class RosterInvalid(_ProblemList):
    """Raised by roster.loader with every problem found in a roster file."""


class StoreUnavailable(DutydError):
    """Raised by store.presence when a database dutyd created is gone, or cannot commit."""


class NoPlanCovers(DutydError):
    """Raised by plans.selection when no loaded plan covers an incident."""


class AuthError(DutydError):
    """Raised by auth.tokens when a bearer token is missing, unknown or revoked."""


class Forbidden(AuthError):
    """Raised by auth.tokens when a valid token's role may not perform an action."""


class DeliveryFailed(DutydError):
    """Raised by a notify transport; `retryable` says whether trying again may help."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
