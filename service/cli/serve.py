"""`dutyd serve`: the daemon itself."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app import Dutyd
from service.cli.runner import fail, settings
from service.errors import DutydError
from service.logs import configure_logging


def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from settings).")] = None,
) -> None:
    """Run the daemon: API, engine and scheduler."""
    # Imported here: the other commands need no web server and start faster without it.
    import uvicorn

    from service.api.app import create_api

    current = settings()
    configure_logging(current.log_level, current.log_format)
    try:
        listen = {
            "host": host or current.http_host,
            "port": port or current.http_port,
            "log_level": current.log_level.lower(),
            "access_log": False,
            "proxy_headers": True,
            "forwarded_allow_ips": current.http_trusted_proxies,
            "timeout_keep_alive": current.http_keep_alive_seconds,
        }
        if current.http_workers > 1:
            if not current.effective_database_url.startswith("postgresql"):
                typer.echo(
                    "warning: several http_workers on SQLite queue for its one writer", err=True
                )
            # Each worker process builds its own Dutyd from the settings.
            uvicorn.run(
                "service.api.app:create_api_from_settings",
                factory=True,
                workers=current.http_workers,
                **listen,
            )
        else:
            uvicorn.run(create_api(Dutyd(current)), **listen)
    except DutydError as exc:
        raise fail(str(exc)) from None
