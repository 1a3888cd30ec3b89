"""The dutyd command as a duty officer uses it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.conftest import REPO

REPORT = [
    "incident",
    "report",
    "--category",
    "natural_disaster",
    "--type",
    "flood",
    "--level",
    "II",
    "--unit",
    "qingshan",
    "--title",
    "青山河水位超警戒",
]


def test_report_show_and_ack(tmp_path: Path) -> None:
    """Report, show the timeline with the queued notifications, acknowledge."""
    reported = run_cli(tmp_path, *REPORT)
    assert reported.returncode == 0, reported.stderr
    match = re.search(
        r"incident (\d+) logged under plan qingshan-flood; 8 message\(s\) queued", reported.stdout
    )
    assert match, reported.stdout
    incident_id = match.group(1)

    shown = run_cli(tmp_path, "incident", "show", incident_id)
    assert shown.returncode == 0, shown.stderr
    assert "plan_selected" in shown.stdout and "step_fired" in shown.stdout
    assert shown.stdout.count("pending") == 8
    assert "+08" in shown.stdout or "CST" in shown.stdout  # shown in the unit's zone

    acked = run_cli(tmp_path, "incident", "ack", incident_id, "--by", "zhou_jun")
    assert acked.returncode == 0, acked.stderr
    shown = run_cli(tmp_path, "incident", "show", incident_id, "--json")
    assert '"acknowledged_by": "zhou_jun"' in shown.stdout


def test_bad_input_exits_non_zero_and_stores_nothing(tmp_path: Path) -> None:
    """Unknown unit, category or level: a clear message, exit code 2, nothing stored."""
    bad_unit = run_cli(tmp_path, *[("atlantis" if a == "qingshan" else a) for a in REPORT])
    assert bad_unit.returncode == 2
    assert "unknown unit 'atlantis'" in bad_unit.stderr
    bad_category = run_cli(
        tmp_path, *[("volcano" if a == "natural_disaster" else a) for a in REPORT]
    )
    assert bad_category.returncode == 2
    assert "--category" in bad_category.stderr
    bad_level = run_cli(tmp_path, *[("V" if a == "II" else a) for a in REPORT])
    assert bad_level.returncode == 2
    assert "--level" in bad_level.stderr
    listed = run_cli(tmp_path, "incident", "list")
    assert listed.returncode == 0 and listed.stdout.strip() == ""


def test_unknown_incident(tmp_path: Path) -> None:
    """Acknowledging an incident that does not exist says so."""
    result = run_cli(tmp_path, "incident", "ack", "42")
    assert result.returncode == 2
    assert "incident 42 not found" in result.stderr


def test_token_create_list_revoke(tmp_path: Path) -> None:
    """A token is printed once; list shows names and roles only; revoke marks it revoked."""
    created = run_cli(tmp_path, "token", "create", "--role", "leader", "city-leader")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("dutyd_") and len(token) > 40
    listed = run_cli(tmp_path, "token", "list")
    assert "city-leader" in listed.stdout and "leader" in listed.stdout
    assert token not in listed.stdout
    again = run_cli(tmp_path, "token", "create", "--role", "leader", "city-leader")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert run_cli(tmp_path, "token", "revoke", "city-leader").returncode == 0
    assert "revoked" in run_cli(tmp_path, "token", "list").stdout


def test_plans_check_and_roster_now(tmp_path: Path) -> None:
    """The sample plans pass the check; roster now names who is on duty at a given time."""
    checked = run_cli(tmp_path, "plans", "check")
    assert checked.returncode == 0, checked.stderr
    assert "qingshan-flood" in checked.stdout
    now = run_cli(
        tmp_path, "roster", "now", "--unit", "qingshan", "--at", "2026-07-15T10:00:00+08:00"
    )
    assert now.returncode == 0, now.stderr
    assert "leader_on_shift" in now.stdout and "吴华" in now.stdout


def test_config_show_hides_secrets(tmp_path: Path) -> None:
    """Secrets set in the environment are shown only as (set)."""
    shown = run_cli(tmp_path, "config", "show", DUTYD_SMTP_PASSWORD="hunter2-very-secret")
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout
    assert '"smtp_password": "(set)"' in shown.stdout


def test_plans_show_names_the_origin_of_each_rule(tmp_path: Path) -> None:
    """`plans show` prints the effective plan with the file each rule came from."""
    shown = run_cli(tmp_path, "plans", "show", "qingshan-flood", "--level", "I")
    assert shown.returncode == 0, shown.stderr
    assert "# extends linjiang-master -> linjiang-flood" in shown.stdout
    assert "# from plans/qingshan_flood.yaml (levels.I)" in shown.stdout.replace(
        str(REPO) + "/", ""
    )
    governing = run_cli(
        tmp_path,
        "plans",
        "show",
        "--category",
        "public_health",
        "--type",
        "food_safety",
        "--level",
        "III",
        "--unit",
        "hexi",
    )
    assert governing.returncode == 0, governing.stderr
    assert governing.stdout.startswith("# plan linjiang-public-health chosen")
    unknown = run_cli(tmp_path, "plans", "show", "nope")
    assert unknown.returncode == 2 and "unknown plan 'nope'" in unknown.stderr


def test_plans_check_lists_every_problem(tmp_path: Path) -> None:
    """A broken plan directory: each problem printed, exit code 1."""
    broken = REPO / "tests" / "plans" / "testdata" / "extends_cycle"
    checked = run_cli(tmp_path, "plans", "check", str(broken))
    assert checked.returncode == 1
    assert checked.stderr.count("extends forms a cycle") == 2
    assert "2 problem(s) found" in checked.stderr


def test_roster_commands(tmp_path: Path) -> None:
    """check (clean, then a violation), export, override, import of a CSV duty table."""
    clean = run_cli(tmp_path, "roster", "check", "--from", "2026-12-01", "--to", "2026-12-08")
    assert clean.returncode == 0, clean.stderr
    assert "no gaps or violations" in clean.stdout

    added = run_cli(
        tmp_path,
        "roster",
        "override",
        "--unit",
        "hexi",
        "--role",
        "leader_on_shift",
        "--from",
        "2026-12-02T09:00:00+08:00",
        "--to",
        "2026-12-03T09:00:00+08:00",
        "--person",
        "he_jing",
        "--approved-by",
        "ma_lin",
        "--reason",
        "出差",
    )
    assert added.returncode == 0, added.stderr
    assert "approved" in added.stdout
    flagged = run_cli(tmp_path, "roster", "check", "--from", "2026-12-01", "--to", "2026-12-08")
    assert flagged.returncode == 1
    assert "hexi" in flagged.stdout and "leader_rank" in flagged.stdout
    assert "2026-12-02 09:00 – 2026-12-03 09:00" in flagged.stdout

    exported = run_cli(tmp_path, "roster", "export")
    assert exported.returncode == 0 and "overrides:" in exported.stdout
    table = tmp_path / "december.csv"
    table.write_text(
        "date,unit,role,person\n2026-12-05,hexi,duty_officer,cao_yu\n", encoding="utf-8"
    )
    imported = run_cli(tmp_path, "roster", "import", str(table))
    assert imported.returncode == 0, imported.stderr
    assert "roster version 3" in imported.stdout
    assert (
        "2026-12-05,hexi,duty_officer,cao_yu"
        in run_cli(tmp_path, "roster", "export", "--csv").stdout
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("date,unit,role,person\n2026-12-05,hexi,duty_officer,ghost\n", encoding="utf-8")
    refused = run_cli(tmp_path, "roster", "import", str(bad))
    assert refused.returncode == 2 and "bad.csv:2: unknown person 'ghost'" in refused.stderr


def junior_leader_override(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """he_jing (too junior to lead) covers hexi's leader shift of 2 December."""
    return run_cli(
        tmp_path,
        "roster",
        "override",
        "--unit",
        "hexi",
        "--role",
        "leader_on_shift",
        "--from",
        "2026-12-02T09:00:00+08:00",
        "--to",
        "2026-12-03T09:00:00+08:00",
        "--person",
        "he_jing",
        "--requested-by",
        "he_jing",
        *extra,
    )


def test_pending_override_is_approved_from_the_cli(tmp_path: Path) -> None:
    """A pending override changes nothing until `roster approve`; approving twice is refused."""
    added = junior_leader_override(tmp_path)
    assert added.returncode == 0 and "pending approval" in added.stdout, added.stderr
    override_id = added.stdout.split()[1]
    week = ("roster", "check", "--from", "2026-12-01", "--to", "2026-12-08")
    assert run_cli(tmp_path, *week).returncode == 0  # pending: the roster is unchanged
    approved = run_cli(tmp_path, "roster", "approve", override_id, "--approved-by", "ma_lin")
    assert approved.returncode == 0, approved.stderr
    assert f"override {override_id} approved by ma_lin" in approved.stdout
    flagged = run_cli(tmp_path, *week)
    assert flagged.returncode == 1 and "leader_rank" in flagged.stdout
    again = run_cli(tmp_path, "roster", "approve", override_id, "--approved-by", "ma_lin")
    assert again.returncode == 2 and "already approved by ma_lin" in again.stderr
    unknown = run_cli(tmp_path, "roster", "approve", "ovr-nope")
    assert unknown.returncode == 2 and "ovr-nope" in unknown.stderr


def test_roster_versions_are_listed_and_an_earlier_one_restored(tmp_path: Path) -> None:
    """A wrongly approved override is undone by restoring version 1, as version 3."""
    added = junior_leader_override(tmp_path, "--approved-by", "ma_lin")
    assert added.returncode == 0, added.stderr
    week = ("roster", "check", "--from", "2026-12-01", "--to", "2026-12-08")
    assert run_cli(tmp_path, *week).returncode == 1  # the override breaks a rule
    listed = run_cli(tmp_path, "roster", "versions")
    assert listed.returncode == 0, listed.stderr
    newest, first = listed.stdout.splitlines()
    assert newest.split()[:2] == ["*", "2"] and "override ovr-" in newest
    assert first.split()[0] == "1" and "seeded from" in first
    restored = run_cli(tmp_path, "roster", "restore", "1", "--actor", "ma_lin")
    assert restored.returncode == 0, restored.stderr
    assert "roster version 1 restored by ma_lin as version 3" in restored.stdout
    assert run_cli(tmp_path, *week).returncode == 0
    again = run_cli(tmp_path, "roster", "restore", "3")
    assert again.returncode == 2 and "is the one in force" in again.stderr
    unknown = run_cli(tmp_path, "roster", "restore", "99")
    assert unknown.returncode == 2 and "roster version 99 not found" in unknown.stderr


def test_calendar_links_are_revoked_from_the_cli(tmp_path: Path) -> None:
    made = [run_cli(tmp_path, "roster", "feed", "--person", "sun_li") for _ in range(2)]
    assert all(m.returncode == 0 and "/calendar/" in m.stdout for m in made)
    revoked = run_cli(tmp_path, "roster", "feed-revoke", "--person", "sun_li")
    assert revoked.returncode == 0 and "revoked 2 calendar link(s) of sun_li" in revoked.stdout
    again = run_cli(tmp_path, "roster", "feed-revoke", "--person", "sun_li")
    assert "revoked 0" in again.stdout
    ghost = run_cli(tmp_path, "roster", "feed-revoke", "--person", "ghost")
    assert ghost.returncode == 2 and "ghost" in ghost.stderr
