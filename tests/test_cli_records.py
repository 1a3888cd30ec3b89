"""The CLI keeps the office's record: intake (接报登记), casualties and losses, and each hop
of a reporting chain in `report overdue --all`."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_helpers import run_cli

FIRE = [
    "incident",
    "report",
    "--category",
    "accident_disaster",
    "--type",
    "fire",
    "--level",
    "IV",
    "--unit",
    "hexi",
    "--title",
    "河西县纺织厂仓库火灾",
    "--deaths",
    "2",
    "--losses",
    "仓库约800平方米过火",
    "--caller-name",
    "李强",
    "--caller-unit",
    "纺织厂保卫科",
    "--caller-phone",
    "13900001111",
    "--received-via",
    "phone",
    "--actions-taken",
    "已报119，厂内人员已撤离",
    "--others-told",
    "县应急管理局",
]


def test_intake_casualties_and_hops_from_the_command_line(tmp_path: Path) -> None:
    reported = run_cli(tmp_path, *FIRE)
    assert reported.returncode == 0, reported.stderr
    match = re.search(
        r"incident (\d+) logged under plan linjiang-production-safety", reported.stdout
    )
    assert match, reported.stdout
    incident_id = match.group(1)

    shown = run_cli(tmp_path, "incident", "show", incident_id).stdout
    assert "casualties: deaths 2" in shown
    assert "losses: 仓库约800平方米过火" in shown
    assert "reported by phone by 李强, 纺织厂保卫科, 13900001111" in shown
    assert "already done: 已报119，厂内人员已撤离" in shown and "also told: 县应急管理局" in shown
    assert "hop county-to-city" in shown and "向临江市人民政府总值班室值班员报告" in shown

    raised = run_cli(tmp_path, "incident", "casualties", incident_id, "--deaths", "4")
    assert raised.returncode == 0, raised.stderr
    assert f"incident {incident_id}: figures recorded; level III" in raised.stdout
    bad = run_cli(tmp_path, "incident", "casualties", incident_id, "--deaths", "-3")
    assert bad.returncode == 2 and "deaths" in bad.stderr

    found = run_cli(tmp_path, "incident", "list", "--search", "李强").stdout
    assert "河西县纺织厂仓库火灾" in found
    assert run_cli(tmp_path, "incident", "list", "--search", "王五").stdout.strip() == ""

    listed = run_cli(tmp_path, "report", "overdue", "--all").stdout
    assert "hop county-to-city" in listed and "city-to-province" not in listed
    made = run_cli(
        tmp_path,
        "report",
        "submit",
        incident_id,
        "--kind",
        "hop",
        "--hop",
        "county-to-city",
        "--content",
        "书面报告已传真市总值班室",
    )
    assert made.returncode == 0, made.stderr
    assert "report to the duty officer of 临江市人民政府总值班室" in made.stdout
    listed = run_cli(tmp_path, "report", "overdue", "--all").stdout
    hop_line = next(line for line in listed.splitlines() if "city-to-province" in line)
    assert "向江南省人民政府总值班室报告" in hop_line and "临江市人民政府总值班室值班员" in hop_line
