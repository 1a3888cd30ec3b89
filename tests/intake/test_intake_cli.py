"""`dutyd intake check | dry-run | sources`: the rules checked with their lines, a sample
payload shown as what it would become, nothing stored."""

from __future__ import annotations

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
        "DUTYD_INTAKE_FILE": str(REPO / "config" / "intake.yaml"),
    }.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def test_check_dry_run_and_sources(cli: CliRunner, tmp_path: Path) -> None:
    assert "3 rule(s): OK" in cli.invoke(app, ["intake", "check"]).output
    broken = tmp_path / "intake.yaml"
    broken.write_text(
        "sources:\n  am: {kind: alertmanager}\nrules:\n"
        "  - {name: r, sources: [am], category: natural_disaster, event_type: volcano,\n"
        "     unit: qingshan, level: II, title: x}\n",
        encoding="utf-8",
    )
    refused = cli.invoke(app, ["intake", "check", str(broken)])
    assert refused.exit_code == 1 and f"{broken}:4" in refused.output
    assert "volcano" in refused.output
    shown = cli.invoke(
        app,
        [
            "intake",
            "dry-run",
            str(REPO / "docs/examples/alertmanager.json"),
            "--source",
            "alertmanager",
        ],
    )
    assert shown.exit_code == 0, shown.output
    assert "natural_disaster/flood level II in qingshan: S17水位超警戒" in shown.output
    assert "DiskFull" in shown.output and "IGNORED: no rule" in shown.output
    unknown = cli.invoke(app, ["intake", "dry-run", str(broken), "--source", "nobody"])
    assert unknown.exit_code != 0 and "unknown source nobody" in unknown.output
    listed = cli.invoke(app, ["intake", "sources"])
    assert "rain_gauge_r3" in listed.output and "every 10 min, last —" in listed.output
