"""Report duties as people read them: 续报二, 向临江市人民政府值班室报告, a local time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.incidents.models import DutyView
from service.incidents.tables import IncidentRow
from service.plans.models import Target
from service.plans.targets import describe_target
from service.reports.duties import REPORT_NAMES, ReportKind
from service.reports.tables import ReportDutyRow
from service.roster.roster import Roster
from service.texts.words import chinese_number


def local_time(roster: Roster, incident: IncidentRow, at: datetime) -> str:
    return at.astimezone(roster.unit(incident.unit_id).zone).strftime("%m-%d %H:%M")


def duty_name(duty: ReportDutyRow, language: str) -> str:
    """初报, 续报二, 终报, 向…报告 / initial report, follow-up report 2, final report."""
    if duty.names and language in duty.names:
        return str(duty.names[language])
    name = REPORT_NAMES[ReportKind(duty.kind)][language]
    if duty.kind != ReportKind.followup:
        return name
    if language == "zh":
        return f"{name}{chinese_number(duty.sequence)}"
    return f"{name} {duty.sequence}"


def duty_names(duty: ReportDutyRow) -> dict[str, str]:
    """The duty's name in both languages, kept on the timeline: a hop's name depends on the
    roster of the day, which may change before anyone reads the entry."""
    return {language: duty_name(duty, language) for language in ("zh", "en")}


def duty_facts(duty: ReportDutyRow) -> dict[str, Any]:
    """What a timeline entry about the duty needs to say it in either language."""
    return {
        "duty": duty.id,
        "kind": duty.kind,
        "hop": duty.hop,
        "sequence": duty.sequence,
        "name": duty_names(duty),
        "due": duty.due_at.isoformat(),
        "responsible_desc": duty.responsible_desc,
    }


def duty_view(d: ReportDutyRow) -> DutyView:
    return DutyView(
        id=d.id,
        kind=d.kind,
        sequence=d.sequence,
        hop=d.hop,
        name=duty_name(d, "zh"),
        due_at=d.due_at,
        state=d.state,
        late=d.late,
        responsible=d.responsible_desc,
        recipients=d.recipients,
        submitted_at=d.submitted_at,
        submitted_by=d.submitted_by,
    )


def hop_names(roster: Roster, recipient: Target, incident_unit: str) -> dict[str, str]:
    """A hop named by whom it reports to: 向临江市人民政府值班室值班员报告."""
    zh = describe_target(roster, recipient, incident_unit, "zh")
    en = describe_target(roster, recipient, incident_unit, "en")
    return {"zh": f"向{zh}报告", "en": f"report to {en}"}
