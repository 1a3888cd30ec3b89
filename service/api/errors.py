"""The one place domain errors become HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.errors import (
    AuthError,
    Forbidden,
    InvalidInput,
    NoPlanCovers,
    NotFound,
    PlanInvalid,
    RosterInvalid,
)


def _field_error(field: str | None, message: str, kind: str) -> JSONResponse:
    # Same shape as FastAPI's own validation errors, so clients handle one format.
    loc = ["body", field] if field else ["body"]
    return JSONResponse(
        status_code=422, content={"detail": [{"loc": loc, "msg": message, "type": kind}]}
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _field_error(exc.field, exc.message, "invalid_input")

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
