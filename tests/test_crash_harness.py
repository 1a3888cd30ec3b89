"""The crash harness in its short form: the real daemon killed with SIGKILL three times
against a faulty fake Twilio and an SMTP server that is down at first; nothing may be lost,
stuck, doubled beyond a crash at the provider, or falsely declared unreachable.

The short form kills only at moments when no message is `sending` (`--safe-kills`), so
that settling needs no lease takeover (DUTYD_SEND_LEASE_SECONDS is 60 at least): the
kills still cut incident reports, escalation steps and result records short. If a kill
finds a message sending after all, the run waits for the takeover rather than fail. The
short form has no hangs (5xx and 429 only): a hang holds a message `sending` for dutyd's
15 s timeout and leaves no safe moment. Kills at the provider and the two-process takeover
are the full form's (`python -m benchmarks.crash_harness`, docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import crash_harness
from tests.conftest import postgres_admin_url

SHORT_FORM = [
    "--rounds",
    "3",
    "--incidents",
    "60",
    "--safe-kills",
    "--safe-wait",
    "10",
    "--hang-share",
    "0",  # a hang holds a message `sending` for 15 s: no safe moment; the full form hangs
    "--wait-scale",
    "0.1",  # a plan's 10 min wait becomes 1 s: every chain runs to its end
    "--rate-limit",
    "60",
    "--smtp-down",
    "6",
    "--no-takeover",
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_nothing_lost_nothing_doubled(backend: str, tmp_path: Path) -> None:
    extra = []
    if backend == "postgres":
        extra = ["--postgres-url", postgres_admin_url() or ""]
    args = crash_harness.parser().parse_args(
        ["--backend", backend, "--work-dir", str(tmp_path), *SHORT_FORM, *extra]
    )
    (run,) = crash_harness.asyncio.run(crash_harness.main_async(args))
    crash_harness.report(run)
    figures = run.figures
    assert figures["kills"] == 3
    # A report cut short by a kill gets no answer (at most one per client, four clients).
    assert figures["incidents_posted"] == 60
    assert figures["incidents_unanswered"] <= 4 * 3
    assert figures["incidents_answered_2xx"] + figures["incidents_unanswered"] == 60
    assert figures["losses"] == 0, run.problems
    assert figures["stuck"] == 0, run.problems
    assert figures["duplicates_unexplained"] == {}, run.problems
    assert figures["duplicate_steps"] == 0
    assert figures["unreachable_but_reached"] == 0, run.problems
