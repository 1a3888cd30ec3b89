"""Duty tables round-trip through CSV, and the whole roster through YAML, without loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import RosterInvalid
from service.roster.csvio import export_duty_table, parse_duty_table
from service.roster.loader import load_roster
from service.roster.store import to_yaml
from tests.conftest import REPO
from tests.roster.builders import roster

TABLE = """date,unit,role,person,shift_start,shift_length
2026-10-01,u,duty_officer,a,08:30,24h
2026-10-01,u,duty_officer,b,08:30,24h
2026-10-02,u,leader_on_shift,boss,08:00,12h
2026-10-02,u,leader_on_shift,vice,20:00,12h
"""


def test_csv_round_trip() -> None:
    """Import, export, import again: the same lines, byte for byte on the second export."""
    r = roster()
    lines = parse_duty_table(TABLE, r)
    exported = export_duty_table(lines)
    assert exported == TABLE
    assert parse_duty_table(exported, r) == lines


def test_csv_with_bom_and_default_columns() -> None:
    """Spreadsheets write a BOM; shift_start and shift_length may be left out."""
    lines = parse_duty_table("\ufeffdate,unit,role,person\n2026-10-03,u,duty_officer,c\n", roster())
    assert lines[0].shift_start.strftime("%H:%M") == "08:30" and lines[0].person == "c"


def test_csv_errors_name_the_line() -> None:
    bad = (
        TABLE + "2026-13-01,u,duty_officer,a,08:30,24h\n2026-10-04,u,duty_officer,ghost,08:30,24h\n"
        "2026-10-05,mars,cook,a,08:30,24h\n"
    )
    with pytest.raises(RosterInvalid) as raised:
        parse_duty_table(bad, roster(), "duty.csv")
    text = str(raised.value)
    assert "duty.csv:6: date" in text
    assert "duty.csv:7: unknown person 'ghost'" in text
    assert "duty.csv:8: role" in text
    with pytest.raises(RosterInvalid, match=r"duty\.csv:1: missing column"):
        parse_duty_table("day,who\n", roster(), "duty.csv")


def test_yaml_round_trip(tmp_path: Path) -> None:
    """The sample roster exported to YAML loads back to the same document."""
    original = load_roster(REPO / "config" / "roster.yaml")
    path = tmp_path / "roster.yaml"
    path.write_text(to_yaml(original.document), encoding="utf-8")
    assert load_roster(path).document == original.document
