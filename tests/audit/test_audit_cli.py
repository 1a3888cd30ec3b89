"""`dutyd audit verify | show`: commands are recorded as who ran them, the chain checks
out, and an entry edited in the database makes verify fail naming it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import REPO


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in {
        "DUTYD_CONFIG": str(tmp_path / "no-such-settings.yaml"),
        "DUTYD_DATA_DIR": str(tmp_path / "data"),
        "DUTYD_ROSTER_FILE": str(REPO / "config" / "roster.yaml"),
        "DUTYD_PLANS_DIR": str(REPO / "plans"),
    }.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def test_verify_and_show(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(app, ["user", "create-admin", "zhao_min"]).exit_code == 0
    report = ["incident", "report", "--category", "natural_disaster", "--type", "flood"]
    logged = cli.invoke(
        app, ["--as", "zhao_min", *report, "--level", "IV", "--unit", "qingshan", "--title", "x"]
    )
    assert logged.exit_code == 0, logged.output
    intact = cli.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0 and "audit chain intact" in intact.output, intact.output
    shown = cli.invoke(app, ["audit", "show", "--incident", "1"])
    entries = [json.loads(line) for line in shown.output.splitlines()]
    assert entries and entries[0]["actor"] == "zhao_min" and entries[0]["kind"] == "person"
    assert entries[0]["action"] == "dutyd incident report"
    assert cli.invoke(app, ["audit", "show", "--person", "zhao_min"]).output.strip()

    with sqlite3.connect(tmp_path / "data" / "dutyd.db") as db:
        db.execute("UPDATE audit_log SET action = 'nothing to see' WHERE seq = 1")
    broken = cli.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "entry 1" in broken.output and "edited" in broken.output
