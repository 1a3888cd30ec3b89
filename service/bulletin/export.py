"""The monthly duty report as PDF (tables and charts), CSV and XLSX."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from service.bulletin.models import MonthlyBulletin
from service.bulletin.words import word

if TYPE_CHECKING:
    from fpdf import FPDF

UNIT_COLUMNS = (
    "unit incidents acknowledged mtta mttr on_time late missing rate assignments "
    "closed_on_time spot_checks answered lapses warnings reach"
).split()
LATE_COLUMNS = "unit incident report responsible due made delay state explanation".split()


def _minutes(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def unit_rows(bulletin: MonthlyBulletin, language: str) -> list[list[str]]:
    header = [word(f"columns.{c}", language) for c in UNIT_COLUMNS]
    body = []
    for u in bulletin.units:
        rate = u.on_time_rate
        body.append(
            [
                u.name,
                str(u.incidents),
                str(u.acknowledged),
                _minutes(u.mean_minutes_to_acknowledge),
                _minutes(u.mean_minutes_to_resolve),
                str(u.reports_on_time),
                str(u.reports_late),
                str(u.reports_missing),
                "" if rate is None else f"{rate:.0%}",
                str(u.assignments),
                str(u.assignments_closed_on_time),
                str(u.spot_checks),
                str(u.spot_checks_answered),
                str(u.spot_check_lapses),
                str(u.warnings_published),
                str(u.warning_recipients),
            ]
        )
    return [header, *body]


def late_rows(bulletin: MonthlyBulletin, language: str) -> list[list[str]]:
    zone = ZoneInfo(bulletin.timezone)
    header = [word(f"late_columns.{c}", language) for c in LATE_COLUMNS]
    body = [
        [
            line.unit,
            f"#{line.incident_id}",
            line.report,
            line.responsible,
            line.due_at.astimezone(zone).strftime("%m-%d %H:%M"),
            line.submitted_at.astimezone(zone).strftime("%m-%d %H:%M") if line.submitted_at else "",
            str(line.delay_minutes),
            word(f"states.{line.state}", language),
            line.explanation,
        ]
        for line in bulletin.late
    ]
    return [header, *body]


def title(bulletin: MonthlyBulletin, language: str) -> str:
    year, month = bulletin.month.split("-")
    if language == "zh":
        return f"{bulletin.office}{year}年{int(month)}月值班通报"
    return f"{bulletin.office}: {word('title', language)}, {bulletin.month}"


def bulletin_csv(bulletin: MonthlyBulletin, language: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title(bulletin, language)])
    writer.writerow([word("units", language)])
    writer.writerows(unit_rows(bulletin, language))
    writer.writerow([])
    writer.writerow([word("late", language)])
    writer.writerows(late_rows(bulletin, language))
    return out.getvalue()


def bulletin_xlsx(bulletin: MonthlyBulletin, language: str) -> bytes:
    from openpyxl import Workbook  # when asked for: see bulletin_pdf

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = word("units", language)[:31]
    for row in unit_rows(bulletin, language):
        sheet.append(row)
    late = book.create_sheet(word("late", language)[:31])
    for row in late_rows(bulletin, language):
        late.append(row)
    series = book.create_sheet(word("chart_on_time", language)[:31])
    series.append([word("columns.unit", language), *bulletin.months])
    for name, rates in bulletin.on_time_series.items():
        series.append([name, *("" if r is None else round(r, 4) for r in rates)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(pdf: FPDF, rows: list[list[str]], widths: tuple[int, ...] | None = None) -> None:
    from fpdf import FontFace

    heading = FontFace(emphasis="", fill_color=(230, 230, 230))
    with pdf.table(col_widths=widths, text_align="LEFT", headings_style=heading) as table:
        for row in rows:
            table.row(row)


def bulletin_pdf(bulletin: MonthlyBulletin, language: str, font: Path) -> bytes:
    # Imported when a report is made: fpdf2 and matplotlib take most of a second to
    # import, which every `dutyd` command would otherwise pay.
    from fpdf import FPDF

    from service.bulletin.charts import CHARTS

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(title(bulletin, language))
    pdf.add_font("cjk", fname=str(font))
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(text=title(bulletin, language))
    pdf.ln(9)
    pdf.set_font("cjk", size=9)
    zone = ZoneInfo(bulletin.timezone)
    generated = bulletin.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    pdf.cell(
        text=f"{word('period', language)}: {bulletin.month}    "
        f"{word('generated', language)}: {generated}"
    )
    pdf.ln(8)
    pdf.set_font("cjk", size=12)
    pdf.cell(text=word("units", language))
    pdf.ln(7)
    pdf.set_font("cjk", size=7)
    _table(pdf, unit_rows(bulletin, language))
    pdf.ln(4)
    pdf.set_font("cjk", size=12)
    pdf.cell(text=word("late", language))
    pdf.ln(7)
    pdf.set_font("cjk", size=7)
    if bulletin.late:
        _table(pdf, late_rows(bulletin, language), (30, 14, 22, 40, 22, 22, 16, 14, 90))
    else:
        pdf.cell(text=word("no_late", language))
        pdf.ln(6)
    pdf.add_page()
    pdf.set_font("cjk", size=12)
    pdf.cell(text=word("charts", language))
    pdf.ln(6)
    for index, draw in enumerate(CHARTS.values()):
        png = draw(bulletin, language, font, "png")
        pdf.image(io.BytesIO(png), x=10 + (index % 2) * 140, y=20 + (index // 2) * 68, w=135)
    return bytes(pdf.output())
