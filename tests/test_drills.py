"""Drills (演练): a plan run for real with a drill roster, every message marked, nothing in
the real figures, ended, and its report checked line by line in JSON, CSV and PDF."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from service.auth.tokens import Role
from service.errors import InvalidInput
from service.flows import warnings as flow
from service.flows.warning_intake import draft_from_incident
from service.notify.tables import MessageRow
from service.warnings.models import CapStatus, WarningContent
from tests.api_helpers import api_client
from tests.cli_helpers import run_cli
from tests.conftest import Daemon
from tests.warnings.warning_helpers import (
    COUNTY_HEAD,
    DRAFTER,
    desk,
    load_recipients,
    recipients_csv,
)

DRILL = {
    "plan": "qingshan-flood",
    "level": "II",
    "unit": "qingshan",
    "scenario": "模拟青山河水位超警戒1.2米，沿河村庄需转移",
    # The office director plays the duty officer; the leader on shift is the real one.
    "stand_ins": {"duty_officer": "zheng_hao"},
}
QINGSHAN_DUTY_OFFICERS = {"liu_yang", "sun_li"}


async def test_a_drill_runs_the_plan_for_real_and_is_reported(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    assert daemon.transport is not None
    desk = await api_client(dutyd, Role.duty_officer, "desk")
    leader = await api_client(dutyd, Role.leader, "wang_fang")
    window = {
        "from": (dutyd.clock.now() - timedelta(hours=1)).isoformat(),
        "to": (dutyd.clock.now() + timedelta(days=1)).isoformat(),
    }
    assert (await desk.post("/api/v1/drills", json=DRILL)).status_code == 403
    started = await leader.post("/api/v1/drills", json=DRILL)
    assert started.status_code == 201, started.text
    drill = started.json()
    assert drill["title"] == "青山县防汛应急预案演练" and drill["incident_id"]
    assert drill["category"] == "natural_disaster" and drill["event_type"] == "flood"
    incident_id = drill["incident_id"]
    await dutyd.engine.run_due()

    # The first step reached the stand-in, not the real duty officers; all of it marked.
    first = list(daemon.transport.sent)
    assert first and {m.person_id for m in first} & {"zheng_hao"}
    assert not {m.person_id for m in first} & QINGSHAN_DUTY_OFFICERS
    assert all(m.body.startswith("【演练】") for m in first), [m.body[:30] for m in first]

    # Nobody answers for 10 minutes: the second step goes out; then the leader acknowledges.
    dutyd.clock.advance(timedelta(minutes=11))
    await dutyd.engine.run_due()
    dutyd.clock.advance(timedelta(minutes=2))
    assert (await desk.post(f"/api/v1/incidents/{incident_id}/ack")).status_code == 200
    # The reports come due and nobody makes them.
    dutyd.clock.advance(timedelta(hours=3))
    await dutyd.engine.run_due()
    # What came due for one person at once is gathered for half a second into a digest.
    dutyd.clock.advance(timedelta(seconds=1))
    await dutyd.engine.run_due()

    async with dutyd.reads() as session:
        stored = list(
            await session.scalars(select(MessageRow).where(MessageRow.incident_id == incident_id))
        )
    assert len(stored) >= len(first) + 2
    assert all(m.body.startswith("【演练】") or m.body.startswith("[DRILL]") for m in stored)
    assert all(m.subject.startswith("【演练】") for m in stored if m.channel == "email")

    # Not in the real figures, not on the accountability list.
    figures = (await desk.get("/api/v1/statistics", params=window)).json()
    assert not any(f["incidents"] for f in figures if f["unit"] == "qingshan")
    late = (await desk.get("/api/v1/accountability/late-reports", params=window)).json()
    assert not any(r["incident_id"] == incident_id for r in late)

    report = (await desk.get(f"/api/v1/drills/{drill['id']}/report")).json()
    by_section: dict[str, list[dict]] = {}
    for line in report["lines"]:
        by_section.setdefault(line["section"], []).append(line)
    steps = by_section["step"]
    assert steps[0]["what"] == "第1步" and steps[0]["outcome"] == "on_time"
    assert steps[1]["what"] == "第2步" and steps[1]["outcome"] == "on_time"
    assert all(s["outcome"] == "cancelled" for s in steps[2:]), steps
    (ack,) = by_section["acknowledgement"]
    assert ack["who"] == "desk" and ack["outcome"] == "late"  # after the second step was due
    assert ack["planned_at"] == steps[1]["planned_at"]
    assert len(by_section["message"]) == len(stored)
    assert any(m["who"] == "郑浩" for m in by_section["message"])
    # Sent alone and delivered, or bundled into a digest that was.
    assert {m["outcome"] for m in by_section["message"]} <= {"delivered", "sent"}
    reports = by_section["report"]
    now = dutyd.clock.now().isoformat().replace("+00:00", "Z")
    assert reports and all(r["who"] == "郑浩" for r in reports)  # the duty officer's duty
    assert all(r["outcome"] == ("late" if r["planned_at"] <= now else "pending") for r in reports)
    assert any(r["outcome"] == "late" for r in reports)

    exported = await desk.get(f"/api/v1/drills/{drill['id']}/report.csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0][:3] == ["演练", str(drill["id"]), "青山县防汛应急预案演练"]
    assert table[1] == ["环节", "事项", "人员", "计划时间", "实际时间", "偏差", "结果"]
    assert len(table) == 2 + len(report["lines"])
    assert table[2][0] == "升级步骤" and table[2][-1] == "按时"

    pdf = await desk.get(f"/api/v1/drills/{drill['id']}/report.pdf", params={"language": "en"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Drill report" in text and "青山县防汛应急预案演练" in text
    assert "step 1" in text and "郑浩" in text and "late" in text

    ended = await leader.post(f"/api/v1/drills/{drill['id']}/end")
    assert ended.status_code == 200 and ended.json()["ended_at"]
    incident = (await desk.get(f"/api/v1/incidents/{incident_id}")).json()
    assert incident["status"] == "resolved"
    assert (await leader.post(f"/api/v1/drills/{drill['id']}/end")).status_code == 409
    listed = (await desk.get("/api/v1/drills", params={"unit": "qingshan"})).json()
    assert [d["id"] for d in listed] == [drill["id"]]
    await desk.aclose()
    await leader.aclose()


async def test_a_drill_that_cannot_run_says_why(daemon: Daemon) -> None:
    leader = await api_client(daemon.dutyd, Role.leader, "wang_fang")
    cases = [
        ({"plan": "no-such-plan"}, "no plan 'no-such-plan'"),
        ({"stand_ins": {"duty_officer": "nobody"}}, "nobody"),
        ({"stand_ins": {"janitor": "zheng_hao"}}, "unknown role 'janitor'"),
        ({"unit": "atlantis"}, "atlantis"),
        ({"event_type": "earthquake"}, "does not cover"),
    ]
    for change, says in cases:
        answer = await leader.post("/api/v1/drills", json={**DRILL, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert says in answer.text, (change, answer.text)
    assert (await leader.get("/api/v1/drills")).json() == []
    await leader.aclose()


def test_the_drill_commands(tmp_path: Path) -> None:
    started = run_cli(
        tmp_path,
        *("drill", "start", "qingshan-flood", "--level", "III", "--unit", "qingshan"),
        *("--stand-in", "duty_officer=zheng_hao", "--scenario", "模拟山洪"),
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("drill 1 started: incident 1, 青山县防汛应急预案演练")
    shown = run_cli(tmp_path, "incident", "show", "1")
    assert "演练" in shown.stdout
    csv_file, pdf_file = tmp_path / "drill.csv", tmp_path / "drill.pdf"
    report = run_cli(
        tmp_path, "drill", "report", "1", "--csv", str(csv_file), "--pdf", str(pdf_file)
    )
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[0].split("\t")[0] == "环节"
    rows = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert rows[1][0] == "环节" and any(r[1] == "第1步" for r in rows[2:])
    text = PdfReader(pdf_file).pages[0].extract_text()
    assert "演练报告" in text and "第1步" in text
    listed = run_cli(tmp_path, "drill", "list")
    assert "\tqingshan\tqingshan-flood\tIII\trunning\t" in listed.stdout
    assert run_cli(tmp_path, "drill", "end", "1").returncode == 0
    again = run_cli(tmp_path, "drill", "end", "1")
    assert again.returncode != 0 and "already ended" in again.stderr
    bad = run_cli(
        tmp_path,
        "drill",
        "start",
        "qingshan-flood",
        "--level",
        "III",
        "--unit",
        "qingshan",
        "--stand-in",
        "duty_officer",
    )
    assert bad.returncode == 2 and "ROLE=PERSON" in bad.stderr


async def test_a_drills_warning_is_an_exercise_for_the_drill_groups_only(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    assert daemon.transport is not None
    csv_text = recipients_csv(qingshan=4, hexi=0).replace(",村干部\n", ",村干部;drill\n", 2)
    await load_recipients(dutyd, csv_text)
    leader = await api_client(dutyd, Role.leader, "wang_fang")
    drill = (await leader.post("/api/v1/drills", json={**DRILL, "level": "I"})).json()
    async with dutyd.sessions.begin() as session:
        row = await draft_from_incident(session, desk(dutyd), drill["incident_id"], actor=DRAFTER)
    content = WarningContent.model_validate(row.content)
    assert content.status is CapStatus.Exercise and content.only_groups == ["drill"]
    # Turning it into a real warning is refused, saying why.
    real = content.model_copy(update={"status": CapStatus.Actual})
    async with dutyd.sessions.begin() as session:
        with pytest.raises(InvalidInput, match="drill's warning goes out as status Exercise"):
            await flow.edit_warning(session, desk(dutyd), row.id, real, DRAFTER)
    async with dutyd.sessions.begin() as session:
        await flow.publish_at_once(session, desk(dutyd), row.id, COUNTY_HEAD, reason="演练")
    daemon.transport.sent.clear()
    await dutyd.tick()
    dutyd.clock.advance(timedelta(minutes=1))
    await dutyd.tick()
    warned = [m for m in daemon.transport.sent if m.body.startswith("【预警】")]
    # Two of the four village heads take part in drills; the others hear nothing.
    assert sorted(m.address for m in warned) == ["+8613900000000", "+8613900000001"]
    assert all("【演练】" in m.body for m in warned)
    await leader.aclose()
