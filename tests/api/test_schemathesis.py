"""Schemathesis against the daemon's own OpenAPI schema: generated requests, valid and
not, to every operation, with an admin's token and a duty officer's; no answer is a 5xx.

Bounded (a few examples per operation) so that it fits in every run of the suite; run
`st run` by hand with more examples for a deeper search.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.fakes.smtp import free_port
from tests.test_daemon_process import start_daemon

ST = str(Path(sys.executable).with_name("st"))
EXAMPLES_PER_OPERATION = "12"


@pytest.mark.parametrize("role", ["admin", "duty_officer"])
def test_no_generated_request_gets_a_server_error(tmp_path: Path, role: str) -> None:
    """Every operation, fuzzed from its schema: never a 5xx, and each 4xx is an answer."""
    token = run_cli(tmp_path, "token", "create", "--role", role, "fuzz").stdout.strip()
    port = free_port()
    daemon, _, err = start_daemon(tmp_path, port, f"fuzz-{role}")
    try:
        run = subprocess.run(
            [
                ST,
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                EXAMPLES_PER_OPERATION,
                "--seed",
                "20261201",
                "--request-timeout",
                "20",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # where schemathesis keeps its own files
            timeout=600,
            check=False,
        )
        summary = run.stdout[-3000:]
        assert run.returncode == 0, summary
        generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert generated and generated[1] == generated[2] and int(generated[1]) > 500, summary
        assert "Traceback" not in err.read_text(), err.read_text()[-3000:]
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
