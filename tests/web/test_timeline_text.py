"""The console says each timeline entry in the viewer's language (service/web/
timeline_text.yaml): every kind dutyd writes has its sentences, a worked incident reads
in Chinese, and an entry whose data does not fit its sentence shows its stored summary."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape

from service.auth.policy import Grant
from service.auth.tokens import Role
from service.clock import FrozenClock
from service.incidents.models import TimelineEntry
from service.incidents.timeline import add_entry, read_timeline
from service.web.timeline_text import LANGUAGES, Scene, kinds, sentence, template
from tests.conftest import Daemon
from tests.web.console_helpers import console_client, csrf_of
from tests.web.test_console_pages import FLOOD

SERVICE = Path(__file__).resolve().parents[2] / "service"
# The one place that hands add_entry a kind it was given: `_Context.note` in fire.py.
FORWARDERS = {"service/escalation/fire.py"}
SCENE = Scene(
    people={"sun_li": "孙丽", "cao_yu": "曹宇"},
    units={"qingshan": "青山县人民政府值班室"},
    zone=ZoneInfo("Asia/Shanghai"),
)
DUE = "2026-07-15T02:15:00+00:00"  # 10:15 in Asia/Shanghai
INITIAL = {
    "duty": 7,
    "kind": "initial",
    "hop": None,
    "sequence": 1,
    "name": {"zh": "初报", "en": "initial report"},
    "due": DUE,
    "responsible_desc": "孙丽（青山县人民政府值班室值班员）",
}
GROUNDS = {
    "unit": "qingshan",
    "event_type": "flood",
    "category": None,
    "kind": "county",
    "refines": "linjiang-flood",
    "beaten": ["linjiang-flood"],
    "tied": [],
}
PLAN = {"plan": "qingshan-flood", "version": "0123456789abcdef", "title": "青山县防汛应急预案"}
STEP = {"stage": "step", "step_index": 0, "steps": 3, "round": 0}
FIGURES = {"figure": "deaths", "count": 3, "threshold": 3}
MESSAGE = {
    "message_id": 4,
    "person": "cao_yu",
    "channel": "sms",
    "address": "+86138",
    "digest": False,
}
# What each kind's entries carry, as the code that writes them puts it.
SAMPLES: dict[str, dict[str, Any]] = {
    "reported": {
        "source": "phone",
        "level": "IV",
        "category": "natural_disaster",
        "event_type": "flood",
        "unit": "qingshan",
        "title": "青山河水位超警戒",
    },
    "plan_selected": {**PLAN, "grounds": GROUNDS},
    "replanned": {**PLAN, "from_plan": "master", "from_version": "f" * 16, "grounds": GROUNDS}
    | {"cause": "level", "level": "II"},
    "silenced": {"silence": 1, "by": "cao_yu", "until": DUE, "reason": "水文站检修"},
    "duplicate_report": {
        "level": "IV",
        "source": "webhook",
        "dedup_key": "gauge-7",
        "title": "青山河水位超警戒",
        "changes": ["casualties"],
    },
    "level_changed": {"from": "IV", "to": "III", "raised": True, "reason": "x"}
    | {"cause": "figures", **FIGURES},
    "level_proposed": {"level": "III", "current": "IV", "reason": "x", **FIGURES},
    "category_changed": {
        "from_category": "natural_disaster",
        "from_event_type": "flood",
        "category": "natural_disaster",
        "event_type": "geological",
        "reason": "实为山体滑坡",
    },
    "casualties_updated": {
        "from": {"deaths": 2, "injured": 0},
        "to": {"deaths": 3, "injured": 0},
        "losses_changed": False,
        "note": "县消防大队核实",
    },
    "status_changed": {"from": "acknowledged", "to": "responding", "note": ""},
    "acknowledged": {"cancelled": 2},
    "ack_expired": {"acknowledged_by": "sun_li"},
    "escalated_now": {},
    "step_fired": {**STEP, "people": ["cao_yu"], "messages": 1, "channels": ["sms", "voice"]},
    "step_late": {"late_seconds": 300, "step_kind": "step", "step_index": 1, "round": 0},
    "notified": {"people": ["cao_yu"], "channels": ["sms"]},
    "coverage_gap": {
        **STEP,
        "target": {"role": "head"},
        "target_name": {"zh": "县长", "en": "head"},
    },
    "no_contact": {**STEP, "person": "cao_yu", "person_name": "曹宇", "channel": "voice"},
    "escalation_exhausted": {"cause": "unanswered", "alert": True},
    "unanswered_alert": {"people": ["sun_li"]},
    "message_sent": {**MESSAGE, "detail": "delivered via twilio (SM1)"},
    "message_failed": {**MESSAGE, "detail": "FAILED after 6 tries: busy"},
    "failover": {
        "message_id": 4,
        "person": "cao_yu",
        "person_name": "曹宇",
        "failed_channel": "sms",
        "next_channel": "email",
        "next_address": "cao.yu@hexi.example.gov.cn",
    },
    "person_unreachable": {"person": "cao_yu", "person_name": "曹宇"},
    "messages_withdrawn": {"withdrawn": 3, "because": "resolved"},
    "reports_due": {"duties": [INITIAL], "change": "casualties"},
    "report_submitted": {**INITIAL, "late": True, "late_seconds": 720},
    "report_reminder": INITIAL,
    "report_late": {**INITIAL, "responsible": "sun_li"},
    "late_escalation": {**INITIAL, "people": ["cao_yu"], "late_step": 1},
    "report_missing": {**INITIAL, "responsible": "sun_li"},
    "report_cancelled": INITIAL,
    "instruction": {"leader": "wang_fang", "text": "立即转移群众", "count": 2, "ids": [1, 2]},
    "drill_started": {
        "drill": 3,
        "plan": "qingshan-flood",
        "level": "II",
        "stand_ins": [{"role_name": {"zh": "值班员", "en": "duty officer"}, "person": "sun_li"}],
    },
    "drill_ended": {"drill": 3},
    "assignment_answered": {"unit": "qingshan", "answer": "已转移230人", "assignment": 1},
    "assignment_closed": {"unit": "qingshan", "comment": "", "assignment": 1},
    "assignment_sent_back": {"unit": "qingshan", "comment": "请补报安置点", "assignment": 1},
    "assignment_late": {
        "unit": "hexi",
        "deadline": "2026-07-15T04:00:00+00:00",
        "people": ["ma_lin"],
        "assignment": 2,
    },
}


def _literals(node: ast.expr | None) -> set[str] | None:
    """The kinds a `kind=` argument can be, if it is spelled out; None if it is not."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return body | orelse if body is not None and orelse is not None else None
    return None


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def written_kinds() -> set[str]:
    """Every kind of timeline entry the service writes, read from its source."""
    found: set[str] = set()
    forwarders: set[str] = set()
    for path in sorted(SERVICE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, "add_entry"):
            kind = next((k.value for k in call.keywords if k.arg == "kind"), None)
            literals = _literals(kind)
            if literals is None:
                forwarders.add(path.relative_to(SERVICE.parent).as_posix())
                # A forwarder's own callers name the kind, first: `ctx.note("kind", …)`.
                for note in _calls(tree, "note"):
                    named = _literals(note.args[0]) if note.args else None
                    assert named is not None, f"{path}:{note.lineno}: name the kind"
                    found |= named
            else:
                found |= literals
    assert forwarders == FORWARDERS, forwarders
    return found


def test_every_kind_written_has_sentences_and_every_sentence_a_kind() -> None:
    written = written_kinds()
    assert len(written) > 25, written  # the scan found the calls
    assert written == kinds()
    for kind in sorted(written):
        for language in LANGUAGES:
            assert template(kind, language) is not None, (kind, language)


def _entry(kind: str, data: dict[str, Any], summary: str = "STORED SUMMARY") -> TimelineEntry:
    at = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
    return TimelineEntry(at=at, kind=kind, actor="sun_li", summary=summary, data=data)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_says_its_sample(kind: str, language: str) -> None:
    said = sentence(_entry(kind, SAMPLES[kind]), language, SCENE)
    assert said != "STORED SUMMARY" and said.strip() == said
    assert not any(mark in said for mark in ("{{", "{%", "None", "  "))


def test_the_samples_cover_every_kind() -> None:
    assert set(SAMPLES) == kinds()


def test_sentences_are_as_an_officer_writes_them() -> None:
    def zh(kind: str, **changed: Any) -> str:
        return sentence(_entry(kind, {**SAMPLES[kind], **changed}), "zh", SCENE)

    assert zh("reported") == (
        "接报登记：IV级（一般）自然灾害/洪涝灾害“青山河水位超警戒”（青山县人民政府值班室，电话接报）"
    )
    assert zh("acknowledged") == "确认收到，已取消2个待发升级步骤"
    assert zh("report_submitted") == "初报已由孙丽报送（迟报12分）"
    assert zh("report_submitted", late=False) == "初报已由孙丽报送"
    assert zh("report_missing", name={"zh": "续报一", "en": "follow-up report 1"}) == (
        "漏报：续报一应于07-15 10:15前报送而未报送；责任人：孙丽（青山县人民政府值班室值班员）"
    )
    assert zh("level_changed") == (
        "级别由IV级调升为III级（较大），理由：现报死亡3人，已达III级标准（3人及以上）"
    )
    assert zh("level_changed", cause="repeat") == (
        "级别由IV级调升为III级（较大），理由：重复报告所报级别为III级"
    )
    assert zh("step_fired", round=1) == "第1步（共3步）第2轮：通过短信、语音电话通知曹宇"
    assert zh("casualties_updated") == "伤亡及损失情况更新：死亡2→3人；说明：县消防大队核实"


def test_an_entry_the_sentences_cannot_say_shows_its_summary() -> None:
    """Entries written before their data carried what a sentence needs, a kind without
    sentences, a value no sentence knows: the stored summary, in either language."""
    unsayable = [
        _entry("report_submitted", {"duty": 7, "kind": "initial", "hop": None, "late": True}),
        _entry("level_changed", {"from": "IV", "to": "III"}),
        _entry("reports_due", {"duties": [{"kind": "initial", "hop": None, "sequence": 1}]}),
        _entry("acknowledged", {}),
        _entry("reported", {**SAMPLES["reported"], "level": "V"}),
        _entry("report_late", {**INITIAL, "due": "not a time"}),
        _entry("step_fired", {**SAMPLES["step_fired"], "channels": ["pigeon"]}),
        _entry("something_new", {"what": 1}),
    ]
    for entry in unsayable:
        for language in LANGUAGES:
            assert sentence(entry, language, SCENE) == "STORED SUMMARY", (entry.kind, language)


async def _work_an_incident(daemon: Daemon, clock: FrozenClock) -> tuple[Any, str, int]:
    """Log the flood from the console, acknowledge it, make the initial report late,
    raise the level: the officer's client, the incident's path and its id."""
    dutyd = daemon.dutyd
    desk = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    csrf = csrf_of((await desk.get("/console/incidents/new")).text)
    logged = await desk.post("/console/incidents/new", data={**FLOOD, "csrf": csrf})
    assert logged.status_code == 303, logged.text
    path = logged.headers["location"]
    await dutyd.tick()  # the first step's messages go out
    assert (await desk.post(f"{path}/ack", data={"csrf": csrf})).status_code == 303
    clock.advance(timedelta(minutes=42))  # 12 minutes past the initial report's deadline
    await dutyd.tick()  # the reminder, then the late record
    await dutyd.tick()
    made = await desk.post(
        f"{path}/report", data={"csrf": csrf, "kind": "initial", "content": "电话初报市总值班室"}
    )
    assert made.status_code == 303, made.text
    raised = await desk.post(
        f"{path}/level", data={"csrf": csrf, "level": "I", "reason": "死亡人数上升"}
    )
    assert raised.status_code == 303, raised.text
    return desk, path, int(path.rsplit("/", 1)[1])


async def _timeline(daemon: Daemon, incident_id: int) -> list[TimelineEntry]:
    async with daemon.dutyd.sessions() as session:
        return await read_timeline(session, incident_id)


async def test_a_worked_incident_reads_in_chinese(daemon: Daemon, clock: FrozenClock) -> None:
    desk, path, incident_id = await _work_an_incident(daemon, clock)
    page = await desk.get(path)
    assert page.status_code == 200, page.text
    html = page.text
    for said in (
        "接报登记：II级（重大）自然灾害/洪涝灾害“青山河水位超警戒”（青山县人民政府值班室，值班员录入）",
        "适用预案《青山县防汛应急预案》（qingshan-flood@",
        "第1步（共",
        "确认收到，已取消",
        "迟报：初报应于07-15 10:30前报送，已逾期；责任人：孙丽（青山县人民政府值班室值班员）",
        "初报已由孙丽报送（迟报12分）",
        "级别由II级调升为I级（特别重大），理由：死亡人数上升",
        "按I级重新适用预案：qingshan-flood@",
        "新增报告任务：",
    ):
        assert said in html, said
    timeline = await _timeline(daemon, incident_id)
    assert {"reported", "acknowledged", "report_submitted", "level_changed"} <= {
        e.kind for e in timeline
    }
    for entry in timeline:
        assert str(escape(entry.summary)) not in html, entry.summary
    assert "acknowledged by" not in html and "submitted by" not in html
    await desk.aclose()


async def test_an_english_viewer_reads_english(daemon: Daemon, clock: FrozenClock) -> None:
    desk, path, _ = await _work_an_incident(daemon, clock)
    csrf = csrf_of((await desk.get(path)).text)
    assert (await desk.post("/console/language", data={"csrf": csrf})).status_code == 303
    clock.advance(timedelta(seconds=3))  # past the console's cache of the session
    html = (await desk.get(path)).text
    assert "initial report submitted by 孙丽 — LATE by 12 min" in html
    assert "level raised from II to level I (extremely serious): 死亡人数上升" in html
    assert "确认收到，已取消" not in html and "初报已由" not in html
    await desk.aclose()


async def test_an_old_entry_shows_its_summary_on_the_page(
    daemon: Daemon, clock: FrozenClock
) -> None:
    dutyd = daemon.dutyd
    desk = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    csrf = csrf_of((await desk.get("/console/incidents/new")).text)
    logged = await desk.post("/console/incidents/new", data={**FLOOD, "csrf": csrf})
    path = logged.headers["location"]
    old = "initial report submitted by liu_yang — LATE by 4m"
    async with dutyd.sessions.begin() as session:
        # As written before entries kept the duty's name and due time.
        add_entry(
            session,
            incident_id=int(path.rsplit("/", 1)[1]),
            at=clock.now(),
            kind="report_submitted",
            actor="liu_yang",
            summary=old,
            data={"duty": 1, "kind": "initial", "hop": None, "late": True},
        )
    page = await desk.get(path)
    assert page.status_code == 200 and str(escape(old)) in page.text
    assert "接报登记：" in page.text  # the entries around it still read in Chinese
    await desk.aclose()
