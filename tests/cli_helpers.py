"""Running the real `dutyd` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DUTYD = str(Path(sys.executable).with_name("dutyd"))


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYD_")}
    env.update(
        DUTYD_CONFIG=str(tmp_path / "no-such-settings.yaml"),
        DUTYD_DATA_DIR=str(tmp_path / "data"),
        DUTYD_ROSTER_FILE=str(REPO / "config" / "roster.yaml"),
        DUTYD_PLANS_DIR=str(REPO / "plans"),
        DUTYD_WARNINGS_FILE=str(REPO / "config" / "warnings.yaml"),
        DUTYD_INTAKE_FILE=str(REPO / "config" / "intake.yaml"),
        DUTYD_LOG_FORMAT="json",
    )
    env.update(extra)
    return env


def run_cli(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUTYD, *args],
        env=cli_env(tmp_path, **extra_env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
