"""`dutyd serve` hands the settings' HTTP options to uvicorn: its keep-alive outlasts the
idle timeout of Alertmanager's client, so a notification never meets a connection the
server has just closed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from service.cli import app
from tests.cli_helpers import cli_env


@pytest.mark.parametrize(("given", "expected"), [(None, 120), ("300", 300)])
def test_serve_keeps_idle_connections_open_as_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | None, expected: int
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: seen.update(options))
    env = cli_env(tmp_path)
    if given is not None:
        env["DUTYD_HTTP_KEEP_ALIVE_SECONDS"] = given
    for name in [n for n in os.environ if n.startswith("DUTYD_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve", "--port", "18641"], env=env)
    assert result.exit_code == 0, result.output
    assert seen["timeout_keep_alive"] == expected
    assert seen["port"] == 18641
