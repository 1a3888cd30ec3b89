"""Writing plan directories for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO


def copy_sample_plans(tmp_path: Path) -> Path:
    plans = tmp_path / "plans"
    shutil.copytree(REPO / "plans", plans)
    return plans


def write_plan(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
