"""Duty tables (值班表) as CSV, the form offices keep in spreadsheets."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from service.durations import format_duration
from service.errors import RosterInvalid
from service.roster.models import DutyAssignment
from service.roster.roster import Roster

COLUMNS = ["date", "unit", "role", "person", "shift_start", "shift_length"]


def export_duty_table(lines: list[DutyAssignment]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in sorted(lines, key=lambda a: (a.date, a.unit, a.role, a.shift_start, a.person)):
        writer.writerow(
            [
                line.date.isoformat(),
                line.unit,
                line.role,
                line.person,
                line.shift_start.strftime("%H:%M"),
                format_duration(line.shift_length),
            ]
        )
    return out.getvalue()


def parse_duty_table(text: str, roster: Roster, source: str = "duty table") -> list[DutyAssignment]:
    """Read a CSV duty table; every bad line is reported with its line number."""
    text = text.removeprefix("\ufeff")  # spreadsheets like to start UTF-8 with a BOM
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise RosterInvalid(
            [f"{source}:1: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"]
        )
    problems: list[str] = []
    lines: list[DutyAssignment] = []
    for number, row in enumerate(reader, start=2):
        values = {k: v.strip() for k, v in row.items() if k in COLUMNS and v and v.strip()}
        try:
            line = DutyAssignment.model_validate(values)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"])
                problems.append(
                    f"{source}:{number}: {field}: {err['msg']} (found {err.get('input')!r})"
                )
            continue
        if line.unit not in roster.units:
            problems.append(f"{source}:{number}: unknown unit {line.unit!r}")
        if line.person not in roster.people:
            problems.append(f"{source}:{number}: unknown person {line.person!r}")
        lines.append(line)
    if problems:
        raise RosterInvalid(problems)
    return lines
