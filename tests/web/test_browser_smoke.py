"""Debian's Chromium, driven by Playwright, loads a page from 127.0.0.1 and clicks on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.web.browser import launch_browser

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>smoke</title></head>
<body>
<p id="status">waiting</p>
<button id="go" onclick="document.getElementById('status').textContent = 'clicked'">Go</button>
</body></html>
"""


async def _serve_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer one HTTP/1.1 request with PAGE (or 404 for anything but /), then close."""
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
        status, body = (b"200 OK", PAGE) if path == b"/" else (b"404 Not Found", b"")
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    """The page on an ephemeral port of 127.0.0.1, served from the test's own event loop."""
    server = await asyncio.start_server(_serve_page, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/"


async def test_click_changes_text_and_screenshot(page_url: str, tmp_path: Path) -> None:
    started = time.perf_counter()
    async with launch_browser() as browser:
        launched = time.perf_counter() - started
        print(f"browser launch: {launched:.2f}s")
        page = await browser.new_page()
        await page.goto(page_url)
        status = page.locator("#status")
        await expect(status).to_have_text("waiting")
        await page.click("#go")
        await expect(status).to_have_text("clicked")
        shot = tmp_path / "smoke.png"
        await page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
