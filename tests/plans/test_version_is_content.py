"""A plan's version is a pure function of its content: the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

PRINT_VERSIONS = """
from pathlib import Path
from service.plans.loader import load_plans
from service.roster.loader import load_roster
plans = load_plans(Path("plans"), load_roster(Path("config/roster.yaml")))
print(plans.digest)
for loaded in plans.plans:
    print(loaded.plan.id, loaded.digest)
"""


def versions_with_hash_seed(seed: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PRINT_VERSIONS],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_plan_versions_are_the_same_in_processes_with_different_hash_seeds() -> None:
    """Two processes, hash seeds 1 and 2, the same unchanged files: the same versions."""
    first, second = versions_with_hash_seed("1"), versions_with_hash_seed("2")
    assert first.count("\n") > 5
    assert first == second
