"""The API and console of a started daemon served over real HTTP on 127.0.0.1, for a
browser: uvicorn in this process and event loop, so the test's clock drives it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from service.api.app import create_api
from service.app import Dutyd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve_console(dutyd: Dutyd) -> AsyncIterator[str]:
    """The base URL of the served app, until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        create_api(dutyd, manage_lifecycle=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
