"""`dutyd warning` and `dutyd recipients`: the workflow from the command line, acting as
the person `--as` names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service.cli import app
from tests.conftest import REPO
from tests.warnings.warning_helpers import recipients_csv

YAML = """
hazard: rainstorm
level: IV
areas: [{description: 青山县, codes: ["339901"]}]
texts: [{language: zh-CN, headline: 青山县暴雨蓝色预警, description: 预计有大雨。}]
expires: "2099-01-06T09:00:00+08:00"
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in {
        "DUTYD_CONFIG": str(tmp_path / "no-such-settings.yaml"),
        "DUTYD_DATA_DIR": str(tmp_path / "data"),
        "DUTYD_ROSTER_FILE": str(REPO / "config" / "roster.yaml"),
        "DUTYD_PLANS_DIR": str(REPO / "plans"),
        "DUTYD_WARNINGS_FILE": str(REPO / "config" / "warnings.yaml"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)  # the README's commands name files relative to it
    return CliRunner()


def dutyd(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, list(args))


def test_a_warning_from_the_command_line(cli: CliRunner, tmp_path: Path) -> None:
    for person, role in (("li_na", "warning_drafter"), ("zhou_jun", "warning_approver")):
        assert dutyd(cli, "user", "grant", person, role, "--unit", "qingshan").exit_code == 0
    assert dutyd(cli, "user", "grant", "tang_hui", "warning_approver").exit_code == 0
    good = tmp_path / "recipients.csv"
    good.write_text(recipients_csv(qingshan=3, hexi=1), encoding="utf-8")
    imported = dutyd(cli, "--as", "tang_hui", "recipients", "import", str(good))
    assert imported.exit_code == 0 and "4 recipient(s) added" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,kind,areas,sms\nx,,mayor,1,+1\n", encoding="utf-8")
    refused = dutyd(cli, "--as", "tang_hui", "recipients", "import", str(bad))
    assert refused.exit_code == 1 and f"{bad}:2: name:" in refused.output
    assert "nothing imported" in refused.output

    content = tmp_path / "warning.yaml"
    content.write_text(YAML, encoding="utf-8")
    unnamed = dutyd(cli, "warning", "draft", str(content), "--unit", "qingshan")
    assert unnamed.exit_code != 0 and "--as PERSON" in unnamed.output
    drafted = dutyd(cli, "--as", "li_na", "warning", "draft", str(content), "--unit", "qingshan")
    assert drafted.exit_code == 0 and "warning 1 (Alert, blue rainstorm, qingshan): draft" in (
        drafted.output
    )
    assert "in_review" in dutyd(cli, "--as", "li_na", "warning", "submit", "1").output
    own = dutyd(cli, "--as", "li_na", "warning", "sign", "1")
    assert own.exit_code != 0 and "may not sign_warning" in own.output
    reviewed = dutyd(cli, "--as", "zhou_jun", "warning", "review", "1", "--approve")
    assert "awaiting_signoff" in reviewed.output, reviewed.output
    signed = dutyd(cli, "--as", "tang_hui", "warning", "sign", "1")
    assert signed.exit_code == 0 and "published, 339901YJ_" in signed.output, signed.output
    shown = dutyd(cli, "warning", "show", "1")
    assert "signed" in shown.output and "published" in shown.output
    listed = dutyd(cli, "warning", "list", "--stage", "published")
    assert "warning 1 " in listed.output
    lifted = dutyd(cli, "--as", "tang_hui", "warning", "lift", "1", "--reason", "雨停")
    assert lifted.exit_code == 0 and "(Cancel," in lifted.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(YAML.replace("rainstorm", "meteor"), encoding="utf-8")
    wrong = dutyd(cli, "--as", "li_na", "warning", "draft", str(broken), "--unit", "qingshan")
    assert wrong.exit_code != 0 and "unknown hazard 'meteor'" in wrong.output, wrong.output
    assert f"{broken}:" in wrong.output
    out = dutyd(cli, "--as", "tang_hui", "recipients", "opt-out", "+8613900000000")
    assert out.exit_code == 0 and "opted out" in out.output


def test_the_readme_s_warning_commands(cli: CliRunner) -> None:
    """The README's sequence, with the example files it names, works as written."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("Public warnings (预警发布") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    for line in block.strip().splitlines():
        command = line.split("#")[0].split()
        assert command[0] == ".venv/bin/dutyd", line
        args = [a.strip('"') for a in command[1:]]
        if "--reason" in args:  # the reason is one quoted argument in the shell
            at = args.index("--reason")
            args = [*args[: at + 1], " ".join(args[at + 1 :])]
        result = cli.invoke(app, args)
        assert result.exit_code == 0, (line, result.output)
    shown = cli.invoke(app, ["warning", "show", "1"])
    assert "published" in shown.output and "superseded" not in shown.output
    assert "(Cancel," in cli.invoke(app, ["warning", "list"]).output
