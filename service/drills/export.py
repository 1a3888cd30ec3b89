"""A drill report as CSV and as PDF, in the reader's language and the unit's zone."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from service.drills.models import DrillReport, ReportLine
from service.texts.words import spoken_duration

OUTCOME_ORDER = ("late", "missed", "failed", "unreached", "on_time", "delivered")


@cache
def _words() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "words.yaml").read_text(encoding="utf-8"))


def word(key: str, language: str) -> str:
    entry: Any = _words()
    for part in key.split("."):
        entry = entry[part]
    return str(entry[language])


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _delay(line: ReportLine, language: str) -> str:
    seconds = line.delay_seconds
    if seconds is None or line.section == "message":
        return ""
    sign = "-" if seconds < 0 else "+"
    return sign + spoken_duration(timedelta(seconds=seconds), language)


def rows(report: DrillReport, language: str) -> list[list[str]]:
    """The report's table: a header, then a row per line."""
    zone = ZoneInfo(report.timezone)
    header = [
        word(f"columns.{c}", language)
        for c in ("section", "what", "who", "planned", "actual", "delay", "outcome")
    ]
    body = [
        [
            word(f"sections.{line.section}", language),
            line.what,
            line.who,
            _when(line.planned_at, zone),
            _when(line.actual_at, zone),
            _delay(line, language),
            word(f"outcomes.{line.outcome}", language),
        ]
        for line in report.lines
    ]
    return [header, *body]


def summary(report: DrillReport, language: str) -> str:
    counted = [(o, report.count(o)) for o in OUTCOME_ORDER]
    return (
        "，".join(f"{word(f'outcomes.{o}', language)} {n}" for o, n in counted if n)
        if (language == "zh")
        else ", ".join(f"{word(f'outcomes.{o}', language)}: {n}" for o, n in counted if n)
    )


def report_csv(report: DrillReport, language: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([word("drill", language), report.drill_id, report.title])
    writer.writerows(rows(report, language))
    return out.getvalue()


def report_pdf(report: DrillReport, language: str, font: Path) -> bytes:
    # Imported when a PDF is made: fpdf2 takes a third of a second to import, which every
    # `dutyd` command would otherwise pay.
    from fpdf import FPDF, FontFace

    zone = ZoneInfo(report.timezone)
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"{word('title', language)} {report.drill_id}")
    pdf.add_font("cjk", fname=str(font))
    pdf.set_font("cjk", size=16)
    pdf.add_page()
    pdf.cell(text=f"【{word('drill', language)}】{word('title', language)}：{report.title}")
    pdf.ln(10)
    pdf.set_font("cjk", size=10)
    facts = [
        ("drill", str(report.drill_id)),
        ("plan", report.plan_id),
        ("level", report.level),
        ("unit", report.unit),
        ("incident", str(report.incident_id or "")),
        ("started", _when(report.started_at, zone)),
        ("ended", _when(report.ended_at, zone) or word("not_ended", language)),
        ("summary", summary(report, language)),
    ]
    for key, value in facts:
        pdf.cell(text=f"{word(key, language)}: {value}")
        pdf.ln(6)
    pdf.ln(4)
    pdf.set_font("cjk", size=8)
    widths = (24, 70, 36, 34, 34, 30, 22)
    # One font, no bold: a CJK font file has a single weight.
    heading = FontFace(emphasis="", fill_color=(230, 230, 230))
    with pdf.table(col_widths=widths, text_align="LEFT", headings_style=heading) as table:
        for line in rows(report, language):
            table.row(line)
    return bytes(pdf.output())
