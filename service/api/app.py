"""The FastAPI application."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from service import __version__
from service.api import (
    ack,
    drills,
    incidents,
    instructions,
    intake,
    plans,
    relay,
    reports,
    roster,
    silences,
    spotchecks,
    statistics,
    system,
    twilio,
    warnings,
)
from service.api.errors import install_error_handlers
from service.api.intake_fast_path import PATH, AlertmanagerFastPath
from service.api.limits import RequestLimits
from service.app import Dutyd
from service.config import load_settings
from service.logs import configure_logging
from service.process import tune_garbage_collector
from service.web.app import announce_console, install_console


class DutydApi(FastAPI):
    """FastAPI with a storm's requests served ahead of it: FastAPI's and Starlette's own
    layers (error and telemetry middleware, the body limit, the application object) cost a
    machine report more than its fast path does (docs/performance.md, Machine intake)."""

    fast_path: AlertmanagerFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None and scope.get("path") == PATH:
            await self.fast_path(scope, receive, send)  # hands on what it does not serve
        else:
            await super().__call__(scope, receive, send)


def create_api(dutyd: Dutyd, *, manage_lifecycle: bool = True) -> FastAPI:
    """Build the API around a Dutyd; with `manage_lifecycle` it starts and stops it too."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await dutyd.start()
            await announce_console(dutyd)
            tune_garbage_collector()
            await dutyd.run_scheduler()
            # SIGHUP reloads plans, as daemons do; the admin API does the same.
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, dutyd.reload_plans)
        try:
            yield
        finally:
            feed = getattr(app.state, "console_feed", None)
            if feed is not None:
                await feed.stop()
            if manage_lifecycle:
                await dutyd.stop()

    # No OpenTelemetry here (dutyd's metrics are Prometheus'): FastAPI would otherwise ask
    # for its providers on every request.
    off = {"tracing": False, "metrics": False, "logs": False}
    app = DutydApi(title="dutyd", version=__version__, lifespan=lifespan, telemetry=off)
    app.state.dutyd = dutyd
    app.add_middleware(RequestLimits, max_body_bytes=dutyd.settings.http_max_body_bytes)
    install_error_handlers(app)
    # Machines' reports first: a storm's requests are matched before every other route
    # is tried (route matching was a fifth of their time, docs/performance.md).
    app.include_router(intake.router)
    app.include_router(system.router)
    app.include_router(incidents.router)
    app.include_router(plans.router)
    app.include_router(roster.router)
    app.include_router(reports.router)
    app.include_router(silences.router)
    app.include_router(twilio.router)
    app.include_router(ack.router)
    app.include_router(warnings.router)
    app.include_router(instructions.router)
    app.include_router(spotchecks.router)
    app.include_router(statistics.router)
    app.include_router(relay.router)
    app.include_router(drills.router)
    install_console(app)
    # In front of the whole application: a storm's requests go no further than it.
    app.fast_path = AlertmanagerFastPath(
        partial(FastAPI.__call__, app),
        dutyd=dutyd,
        max_body_bytes=dutyd.settings.http_max_body_bytes,
    )
    return app


def create_api_from_settings() -> FastAPI:
    """The app each process builds when `dutyd serve` runs several (`http_workers`)."""
    current = load_settings()
    configure_logging(current.log_level, current.log_format)
    if current.worker_name:
        # Claims are recorded under the worker's name: each process needs its own.
        current = current.model_copy(update={"worker_name": f"{current.worker_name}:{os.getpid()}"})
    return create_api(Dutyd(current))
