"""The command line asks the same access policy as the API and the console: every command
with every role, refused exactly when the policy says the role may not, on the unit the
command is about; and no command is missing from the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner, Result

from service.auth.policy import ALLOWED, Action
from service.auth.tokens import Role
from service.cli import app
from service.cli.access import COMMAND_ACTIONS, MACHINE
from tests.conftest import REPO

# One person per role, each granted that role on qingshan (and the units under it).
HOLDERS = {
    Role.duty_officer: "zhang_wei",
    Role.leader: "wang_fang",
    Role.warning_drafter: "li_na",
    Role.warning_approver: "chen_gang",
    Role.roster_admin: "he_jing",
    Role.admin: "ma_lin",
    Role.viewer: "guo_qiang",
}
# What is about the whole city (the roster, API tokens, an admin of every unit) needs a
# grant on every unit, which none of the holders has.
CITY_WIDE = {
    "roster export",
    "roster versions",
    "roster import",
    "roster restore",
    "token create",
    "token list",
    "token revoke",
    "user create-admin",
    "user list",
    "recipients import",
    "recipients opt-out",
    "intake sources",
    "audit verify",
    "audit show",
}
LATER = "2030-01-05T09:00:00+08:00"
UNTIL = "2030-01-05T12:00:00+08:00"


def command_names() -> set[str]:
    names: set[str] = set()

    def walk(command: object, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, [*path, name])
        else:
            names.add(" ".join(path))

    walk(typer.main.get_group(app), [])
    return names


def test_every_command_has_an_access_rule() -> None:
    assert command_names() == set(COMMAND_ACTIONS)


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


def invoke(cli: CliRunner, *args: str, stdin: str | None = None) -> Result:
    return cli.invoke(app, list(args), input=stdin)


def refused(result: Result, action: Action | None = None) -> bool:
    wanted = f" may not {action.value}" if action else " may not "
    return result.exit_code != 0 and wanted in result.output


WARNING_YAML = """
hazard: rainstorm
level: IV
areas: [{description: 青山县, codes: ["339901"]}]
texts: [{language: zh-CN, headline: 青山县暴雨蓝色预警, description: 有大雨。}]
expires: "2030-01-06T09:00:00+08:00"
"""


def arguments(
    incident: str, roster_file: Path, override: str, warning_file: Path
) -> dict[str, list[str]]:
    """Each command that acts on the duty office's records, aimed at qingshan."""
    in_qingshan = ["--unit", "qingshan"]
    return {
        "plans show": [
            "--category",
            "natural_disaster",
            "--type",
            "flood",
            "--level",
            "IV",
            *in_qingshan,
        ],
        "incident report": [
            *("--category", "natural_disaster", "--type", "flood", "--level", "IV"),
            *("--title", "矩阵", *in_qingshan),
        ],
        "incident casualties": [incident, "--injured", "1"],
        "incident ack": [incident],
        "incident status": [incident, "responding"],
        "incident level": [incident, "III", "--reason", "扩大"],
        "incident escalate": [incident],
        "incident replan": [incident],
        "incident show": [incident],
        "incident list": in_qingshan,
        "report submit": [incident, "--kind", "initial", "--content", "初报内容"],
        "report overdue": in_qingshan,
        "report stats": ["--from", "2030-01-01", "--to", "2030-02-01", *in_qingshan],
        "roster now": in_qingshan,
        "roster check": ["--from", "2030-01-01", "--to", "2030-01-03", *in_qingshan],
        "roster export": [],
        "roster versions": [],
        "roster import": [str(roster_file)],
        "roster restore": ["1"],
        "roster override": [
            *("--unit", "qingshan", "--role", "duty_officer"),
            *("--from", LATER, "--to", UNTIL, "--person", "sun_li", "--reason", "调班"),
        ],
        "roster approve": [override],
        "roster feed": ["--person", "liu_yang"],
        "roster feed-revoke": ["--person", "liu_yang"],
        "handover start": ["--unit", "qingshan", "--outgoing", "{me}"],
        "handover confirm": ["1", "--person", "{me}"],
        "token create": ["matrix-{me}", "--role", "viewer"],
        "token list": [],
        "token revoke": ["matrix-{me}"],
        "user invite": ["liu_yang", "--role", "viewer", *in_qingshan],
        "user create-admin": ["qian_lei"],
        "user set-password": ["liu_yang", "--password-stdin"],
        "user disable": ["sun_li"],
        "user unlock": ["liu_yang"],
        "user grant": ["liu_yang", "viewer", *in_qingshan],
        "user revoke": ["liu_yang", "viewer", *in_qingshan],
        "user list": [],
        "statistics monthly": ["--month", "2026-07", *in_qingshan],
        "drill start": ["qingshan-flood", "--level", "IV", *in_qingshan],
        "drill end": ["1"],
        "drill list": in_qingshan,
        "drill report": ["1"],
        "warning draft": [str(warning_file), *in_qingshan],
        "warning submit": ["1"],
        "warning review": ["1", "--approve"],
        "warning review-after": ["1"],
        "warning sign": ["1"],
        "warning publish-now": ["1", "--reason", "急"],
        "warning update": ["1", str(warning_file)],
        "warning lift": ["1", "--reason", "解除"],
        "warning withdraw": ["1", "--reason", "误"],
        "warning list": in_qingshan,
        "warning show": ["1"],
        "recipients import": [str(roster_file)],
        "recipients opt-out": ["+8613900000000"],
        "intake sources": [],
        "audit verify": [],
        "audit show": ["--person", "zhao_min"],
    }


def test_every_command_with_every_role(cli: CliRunner, tmp_path: Path) -> None:
    made = invoke(cli, "user", "create-admin", "zhao_min")
    assert made.exit_code == 0, made.output
    for role, person in HOLDERS.items():
        granted = invoke(cli, "user", "grant", person, role.value, "--unit", "qingshan")
        assert granted.exit_code == 0, granted.output
    warning_file = tmp_path / "warning.yaml"
    warning_file.write_text(WARNING_YAML, encoding="utf-8")
    commands = arguments("1", tmp_path, "", warning_file)
    in_unit = ["--unit", "qingshan"]
    logged = invoke(cli, "--as", "zhao_min", "incident", "report", *commands["incident report"])
    assert logged.exit_code == 0, logged.output
    requested = invoke(cli, "--as", "zhao_min", "roster", "override", *commands["roster override"])
    assert requested.exit_code == 0, requested.output
    override = requested.output.split()[1]
    exported = invoke(cli, "roster", "export")
    roster_file = tmp_path / "roster.yaml"
    roster_file.write_text(exported.output, encoding="utf-8")
    commands = arguments("1", roster_file, override, warning_file)
    invoke(cli, "user", "grant", "zhao_min", "warning_drafter")
    drafted = invoke(cli, "--as", "zhao_min", "warning", "draft", str(warning_file), *in_unit)
    assert drafted.exit_code == 0, drafted.output
    acting = {name for name, action in COMMAND_ACTIONS.items() if action != MACHINE}
    assert acting == set(commands), "give the matrix arguments for each command"

    for name, args in commands.items():
        action = Action(COMMAND_ACTIONS[name])
        for role, person in HOLDERS.items():
            given = [a.replace("{me}", person) for a in args]
            stdin = "a long enough passphrase\n" if name == "user set-password" else None
            result = invoke(cli, "--as", person, *name.split(" "), *given, stdin=stdin)
            expected = role not in ALLOWED[action] or name in CITY_WIDE
            assert "Usage:" not in result.output, (name, result.output)
            assert refused(result, action) == expected, (name, role.value, result.output)


def test_scope_reaches_only_the_granted_units(cli: CliRunner, tmp_path: Path) -> None:
    invoke(cli, "user", "grant", "liu_yang", "duty_officer", "--unit", "qingshan")
    invoke(cli, "user", "grant", "ma_lin", "admin", "--unit", "hexi")
    invoke(cli, "user", "grant", "zhao_min", "duty_officer")  # every unit
    report = ["incident", "report", "--category", "natural_disaster", "--type", "flood"]
    for unit, title in (("qingshan", "青山"), ("hexi", "河西")):
        logged = invoke(
            cli, "--as", "zhao_min", *report, "--level", "IV", "--unit", unit, "--title", title
        )
        assert logged.exit_code == 0, logged.output
    assert invoke(cli, "--as", "liu_yang", "incident", "ack", "1").exit_code == 0
    elsewhere = invoke(cli, "--as", "liu_yang", "incident", "ack", "2")
    assert refused(elsewhere) and "in hexi" in elsewhere.output
    hexi = invoke(
        cli, "--as", "liu_yang", *report, "--level", "IV", "--unit", "hexi", "--title", "x"
    )
    assert refused(hexi)
    # Listing every unit needs a grant on every unit; naming one's own unit is fine.
    assert refused(invoke(cli, "--as", "liu_yang", "incident", "list"))
    listed = invoke(cli, "--as", "liu_yang", "incident", "list", "--unit", "qingshan")
    assert listed.exit_code == 0 and "青山" in listed.output
    # A county's admin keeps that county's accounts, and no one else's.
    assert invoke(cli, "--as", "ma_lin", "user", "grant", "feng_bo", "leader").exit_code == 0
    assert refused(invoke(cli, "--as", "ma_lin", "user", "disable", "liu_yang"))
    assert refused(invoke(cli, "--as", "ma_lin", "user", "list"))
    # The timeline names the person the command acted as.
    shown = invoke(cli, "--as", "liu_yang", "incident", "show", "1")
    assert "acknowledged" in shown.output and "liu_yang" in shown.output


def test_who_acts_must_be_named_when_required(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUTYD_CLI_IDENTITY", "required")
    unnamed = invoke(cli, "user", "list")
    assert unnamed.exit_code != 0 and "--as PERSON" in unnamed.output
    # Keeping the machine needs no person: it opens no records of the duty office.
    assert invoke(cli, "config", "show").exit_code == 0
    assert invoke(cli, "plans", "check").exit_code == 0
    unknown = invoke(cli, "--as", "nobody", "user", "list")
    assert unknown.exit_code != 0 and "no account for this person" in unknown.output
    monkeypatch.setenv("DUTYD_AS", "nobody")
    assert "no account for this person" in invoke(cli, "user", "list").output


def test_a_different_by_is_refused(cli: CliRunner) -> None:
    invoke(cli, "user", "create-admin", "zhao_min")
    report = ["incident", "report", "--category", "natural_disaster", "--type", "flood"]
    invoke(cli, "--as", "zhao_min", *report, "--level", "IV", "--unit", "qingshan", "--title", "x")
    mismatch = invoke(cli, "--as", "zhao_min", "incident", "ack", "1", "--by", "li_na")
    assert mismatch.exit_code != 0 and "differs from --as zhao_min" in mismatch.output
