"""`dutyd user`: the first admin, invitations, passwords and roles, from the command line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli_helpers import DUTYD, cli_env, run_cli


def test_first_admin_invitations_and_roles(tmp_path: Path) -> None:
    made = run_cli(tmp_path, "user", "create-admin", "zhao_min")
    assert made.returncode == 0, made.stderr
    assert "zhao_min is admin of every unit" in made.stdout
    assert re.search(r"http://127\.0\.0\.1:8640/console/invite/[A-Za-z0-9_-]{40,}", made.stdout)

    invited = run_cli(
        tmp_path, "user", "invite", "sun_li", "--role", "duty_officer", "--unit", "qingshan"
    )
    assert invited.returncode == 0 and "/console/invite/" in invited.stdout
    granted = run_cli(
        tmp_path,
        "user",
        "grant",
        "sun_li",
        "roster_admin",
        "--unit",
        "qingshan",
        "--only-this-unit",
    )
    assert granted.returncode == 0, granted.stderr
    listed = run_cli(tmp_path, "user", "list").stdout
    assert "zhao_min" in listed and "admin on every unit" in listed
    assert "duty_officer on qingshan and the units under it" in listed
    assert "roster_admin on qingshan;" not in listed and "roster_admin on qingshan" in listed
    assert "invited" in listed

    password = subprocess.run(
        [DUTYD, "user", "set-password", "sun_li", "--password-stdin"],
        input="a long enough passphrase\n",
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert password.returncode == 0, password.stderr
    assert "password set" in run_cli(tmp_path, "user", "list").stdout
    short = subprocess.run(
        [DUTYD, "user", "set-password", "sun_li", "--password-stdin"],
        input="short\n",
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert short.returncode == 2 and "at least 10 characters" in short.stderr

    revoked = run_cli(tmp_path, "user", "revoke", "sun_li", "roster_admin", "--unit", "qingshan")
    assert revoked.returncode == 0, revoked.stderr
    again = run_cli(tmp_path, "user", "revoke", "sun_li", "roster_admin", "--unit", "qingshan")
    assert again.returncode == 2 and "holds no roster_admin" in again.stderr


def test_unknown_people_units_and_roles_are_refused(tmp_path: Path) -> None:
    nobody = run_cli(tmp_path, "user", "invite", "nobody_at_all")
    assert nobody.returncode == 2 and "person nobody_at_all not found" in nobody.stderr
    nowhere = run_cli(tmp_path, "user", "grant", "sun_li", "viewer", "--unit", "atlantis")
    assert nowhere.returncode == 2 and "atlantis" in nowhere.stderr
    bad_role = run_cli(tmp_path, "user", "grant", "sun_li", "mayor")
    assert bad_role.returncode == 2 and "mayor" in bad_role.stderr
    assert run_cli(tmp_path, "user", "list").stdout.strip() == ""
