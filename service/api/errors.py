"""The one place domain errors become HTTP responses."""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

from service import metrics
from service.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    NoPlanCovers,
    NotFound,
    PlanInvalid,
    RosterInvalid,
    StoreUnavailable,
)

log = structlog.get_logger(__name__)


def _field_error(field: str | None, message: str, kind: str) -> JSONResponse:
    # Same shape as FastAPI's own validation errors, so clients handle one format.
    loc = ["body", field] if field else ["body"]
    return JSONResponse(
        status_code=422, content={"detail": [{"loc": loc, "msg": message, "type": kind}]}
    )


def _json_safe(value: Any) -> Any:
    """A value a JSON answer can carry: NaN, infinities and other oddities as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def store_failure(exc: Exception) -> JSONResponse:
    """The answer when the database would not take a request's write."""
    if isinstance(exc, IntegrityError | DataError | ProgrammingError):
        # Not the database's state but a statement of ours: a bug, logged in full.
        log.error("store.statement_failed", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error (logged)"})
    # The database is there but cannot take the write (read-only disk or server, gone,
    # locked for too long): say so, count it, let the caller retry; nothing was stored.
    metrics.STORE_ERRORS.inc()
    log.error("store.request_failed", error=str(exc).splitlines()[0])
    return JSONResponse(
        status_code=503,
        content={"detail": "the database cannot store this now; nothing was stored"},
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, which may be NaN (not JSON) or bytes.
        detail = [
            {k: _json_safe(v) for k, v in error.items() if k != "url"} for error in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(DBAPIError)
    async def _store(_: Request, exc: Exception) -> JSONResponse:
        return store_failure(exc)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _field_error(exc.field, exc.message, "invalid_input")

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(NoPlanCovers)
    async def _no_plan(_: Request, exc: NoPlanCovers) -> JSONResponse:
        return _field_error(None, str(exc), "no_plan")

    @app.exception_handler(PlanInvalid)
    @app.exception_handler(RosterInvalid)
    async def _problems(_: Request, exc: PlanInvalid | RosterInvalid) -> JSONResponse:
        detail = [{"loc": ["body"], "msg": problem, "type": "invalid"} for problem in exc.problems]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    @app.exception_handler(AuthError)
    async def _unauthorized(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(
            status_code=401, content={"detail": str(exc)}, headers={"WWW-Authenticate": "Bearer"}
        )
