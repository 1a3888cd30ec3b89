"""Debian's Chromium driven by Playwright, for browser tests from `async def test_...`.

Playwright's own browser download cannot work on these machines, so `playwright install` is
never run: scripts/test installs Debian's chromium and the tests launch /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
# As root (no sandbox), with no screen or GPU, and in a closed network: without the
# background-networking flags Chromium keeps trying hosts that this network refuses.
FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require_chromium() -> None:
    """Skip the calling test when Debian's Chromium is missing (scripts/test installs it),
    and fail it instead under CI, where a skip would hide a missing browser."""
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = f"browser tests need {CHROMIUM}: apt-get install chromium (scripts/test does)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def launch_browser() -> AsyncIterator[Browser]:
    """A headless Debian Chromium on the running event loop, closed on the way out."""
    require_chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=list(FLAGS), headless=True)
        try:
            yield browser
        finally:
            await browser.close()
