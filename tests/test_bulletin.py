"""The monthly duty report (月度值班通报): the month's figures per unit, the late and missing
reports, six months of on-time rates, and the spread of acknowledgement times and of
incidents over the day; as JSON, CSV, XLSX and PDF with its charts, drills left out."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from pypdf import PdfReader

from service.auth.tokens import Role
from service.bulletin.charts import on_time_chart
from service.bulletin.models import MonthlyBulletin
from service.texts.fonts import find_font
from tests.api_helpers import api_client
from tests.cli_helpers import run_cli
from tests.conftest import Daemon

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}
MONTHLY = "/api/v1/statistics/monthly"


async def test_the_monthly_duty_report(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    leader = await api_client(dutyd, Role.leader, "wang_fang")
    month = dutyd.clock.now().astimezone(dutyd.runtime.roster.unit("qingshan").zone)
    first = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    second = (await desk.post("/api/v1/incidents", json={**FLOOD, "unit": "hexi"})).json()
    drill = (
        await leader.post(
            "/api/v1/drills", json={"plan": "qingshan-flood", "level": "II", "unit": "qingshan"}
        )
    ).json()
    dutyd.clock.advance(timedelta(minutes=7))
    await desk.post(f"/api/v1/incidents/{first['id']}/ack")
    await desk.post(f"/api/v1/incidents/{drill['incident_id']}/ack")
    dutyd.clock.advance(timedelta(hours=3))
    await dutyd.engine.run_due()
    params = {"month": f"{month:%Y-%m}", "unit": ["qingshan", "hexi"]}

    report = (await desk.get(MONTHLY, params=params)).json()
    assert report["office"] == "临江市人民政府总值班室" and report["month"] == f"{month:%Y-%m}"
    qingshan, hexi = report["units"]
    assert (qingshan["unit"], hexi["unit"]) == ("qingshan", "hexi")
    assert qingshan["incidents"] == 1 and hexi["incidents"] == 1  # the drill left out
    assert qingshan["acknowledged"] == 1 and qingshan["mean_minutes_to_acknowledge"] == 7.0
    assert hexi["acknowledged"] == 0 and hexi["reports_missing"] >= 1
    assert report["ack_minutes"] == [7.0]
    assert sum(report["learned_by_hour"]) == 2
    assert report["learned_by_hour"][month.hour] == 2
    assert len(report["months"]) == 6 and report["months"][-1] == f"{month:%Y-%m}"
    assert report["on_time_series"]["青山县人民政府值班室"][-1] == 0.0  # nothing on time
    assert report["on_time_series"]["青山县人民政府值班室"][0] is None  # nothing was due
    late_ids = {line["incident_id"] for line in report["late"]}
    assert late_ids == {first["id"], second["id"]}

    table = list(
        csv.reader(io.StringIO((await desk.get(MONTHLY, params={**params, "format": "csv"})).text))
    )
    assert table[0] == [f"临江市人民政府总值班室{month.year}年{month.month}月值班通报"]
    assert table[2][:3] == ["单位", "接报事件", "已确认"]
    assert table[3][:3] == ["青山县人民政府值班室", "1", "1"]

    xlsx = await desk.get(MONTHLY, params={**params, "format": "xlsx", "language": "en"})
    book = load_workbook(io.BytesIO(xlsx.content))
    units = list(book["Units"].iter_rows(values_only=True))
    assert units[0][:2] == ("Unit", "Incidents") and units[2][:2] == ("河西县人民政府值班室", "1")
    assert len(list(book["Late and missing reports"].iter_rows())) == 1 + len(report["late"])

    pdf = await desk.get(MONTHLY, params={**params, "format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = reader.pages[0].extract_text()
    assert "月值班通报" in text and "青山县人民政府值班室" in text and "漏报" in text
    assert len(reader.pages[-1].images) == 3  # the three charts

    bad = await desk.get(MONTHLY, params={"month": "2026-13"})
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    unknown = await desk.get(MONTHLY, params={"month": "2026-07", "unit": "atlantis"})
    assert unknown.status_code == 422 and "atlantis" in unknown.text
    await desk.aclose()
    await leader.aclose()


def test_the_monthly_report_command(tmp_path: Path) -> None:
    logged = run_cli(
        tmp_path,
        *("incident", "report", "--category", "natural_disaster", "--type", "flood"),
        *("--level", "IV", "--unit", "qingshan", "--title", "积水"),
    )
    assert logged.returncode == 0, logged.stderr
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    pdf_file, xlsx_file = tmp_path / "m.pdf", tmp_path / "m.xlsx"
    made = run_cli(
        tmp_path,
        *("statistics", "monthly", "--month", month, "--unit", "qingshan"),
        *("--pdf", str(pdf_file), "--xlsx", str(xlsx_file)),
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[1].split("\t")[:2] == ["青山县人民政府值班室", "1"]
    assert "值班通报" in PdfReader(pdf_file).pages[0].extract_text()
    assert load_workbook(xlsx_file).sheetnames[0] == "各单位值班情况"
    wrong = run_cli(tmp_path, "statistics", "monthly", "--month", "July")
    assert wrong.returncode == 2 and "YYYY-MM" in wrong.stderr


def test_the_on_time_chart_keeps_the_months_in_order() -> None:
    months = ["2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    bulletin = MonthlyBulletin(
        office="临江市人民政府总值班室",
        month="2026-07",
        timezone="Asia/Shanghai",
        generated_at=datetime.now(UTC),
        units=[],
        late=[],
        months=months,
        # The first unit had nothing due in February: the axis still starts with it.
        on_time_series={"青山": [None, 0.8, 0.9, 1.0, 0.7, 0.95], "河西": [0.5] * 6},
        ack_minutes=[3.0, 250.0],
        learned_by_hour=[1] * 24,
    )
    font = find_font("")
    svg = on_time_chart(bulletin, "zh", font, "svg").decode()
    shown = [m for m in re.findall(r">\s*(\d{4}-\d{2})\s*<", svg)]
    assert shown == months
    assert "报告按时率" in svg and "青山" in svg
    assert on_time_chart(bulletin, "en", font, "png").startswith(b"\x89PNG")
