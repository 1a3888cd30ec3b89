"""The built distribution (what the Docker image installs) carries its non-Python files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_contains_templates_and_migrations(tmp_path: Path) -> None:
    """Templates, Alembic config and migrations ship inside the wheel, not only in the repo."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("dutyd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "service" / "notify" / "templates").glob("*.j2"):
        assert f"service/notify/templates/{template.name}" in names
    assert "service/store/alembic.ini" in names
    assert "service/store/migrations/env.py" in names
    assert "service/store/migrations/versions/0001_initial_schema.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dutyd = service.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
