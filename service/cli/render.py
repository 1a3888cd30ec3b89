"""What the commands print: tables, an incident's timeline, times in the unit's zone.

Only text here, from values the commands read; no rule of the domain is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

import typer

from service.auth.tables import ApiTokenRow
from service.durations import format_duration
from service.incidents.models import IncidentDetail, IncidentView
from service.incidents.tables import IncidentRow
from service.office.tables import HandoverRow
from service.plans.models import LoadedPlan
from service.reports.duties import overdue_by
from service.reports.names import duty_name
from service.reports.stats import UnitReportStats
from service.reports.tables import ReportDutyRow
from service.roster.check import Violation
from service.roster.roster import RoleHolder, Roster
from service.roster.tables import RosterVersionRow


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(line)


def local(at: datetime | None, zone: tzinfo | None) -> str:
    """An instant to the second, with the zone's name, as the officers of that unit read
    clocks; `zone` None is the machine's own zone."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if at else "-"


def minute(at: datetime, zone: tzinfo | None) -> str:
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M}"


def incident_detail(detail: IncidentDetail, roster: Roster) -> list[str]:
    """An incident, its timeline, its messages and its reports, in the unit's zone."""
    unit = roster.units.get(detail.unit)
    zone = unit.zone if unit else None
    people = roster.people

    def at(when: datetime | None) -> str:
        return local(when, zone)

    lines = [
        f"Incident {detail.id}: {detail.title}",
        f"  {detail.category.value}/{detail.event_type}, level {detail.level.value}, "
        f"unit {detail.unit}, status {detail.status.value}",
        f"  learned {at(detail.learned_at)}; plan {detail.plan_id} "
        f"(version {detail.plan_version[:12]})",
    ]
    if detail.acknowledged_at:
        lines.append(f"  acknowledged {at(detail.acknowledged_at)} by {detail.acknowledged_by}")
    if detail.proposed_level:
        lines.append(
            f"  LEVEL {detail.proposed_level.value} PROPOSED, awaiting decision: "
            f"{detail.proposed_reason}"
        )
    lines.extend(f"  {line}" for line in record_lines(detail))
    lines.append("\nTimeline:")
    lines.extend(
        f"  {at(entry.at)}  {entry.kind:<20} {entry.actor:<12} {entry.summary}"
        for entry in detail.timeline
    )
    lines.append("\nNotifications:")
    for m in detail.messages:
        name = people[m.person_id].name if m.person_id in people else m.person_id
        lines.append(
            f"  #{m.id:<5} {at(m.created_at)}  {m.channel:<5} {name} <{m.address}>  "
            f"{m.state}{' via ' + m.transport if m.transport else ''}"
            f"{' at ' + at(m.sent_at) if m.sent_at else ''}"
            f"{' error: ' + m.error if m.error else ''}"
        )
    if detail.reports:
        lines.append("\nReports:")
    for r in detail.reports:
        done = f"made {at(r.submitted_at)} by {r.submitted_by}" if r.submitted_at else r.state
        lines.append(
            f"  {duty_label(r.kind, r.sequence, r.hop):<16} {r.name}  due {at(r.due_at)}  {done}"
            f"{'  LATE' if r.late else ''}  responsible: {r.responsible}"
        )
    return lines


def record_lines(detail: IncidentDetail) -> list[str]:
    """What the office recorded: casualties and losses, and the intake (接报登记)."""
    figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in detail.casualties.items() if v)
    lines = [f"casualties: {figures or 'none reported'}"]
    if detail.losses:
        lines.append(f"losses: {detail.losses}")
    intake = detail.intake
    who = ", ".join(
        x for x in (intake.reporter_name, intake.reporter_unit, intake.reporter_phone) if x
    )
    if who or intake.received_via:
        how = f" by {intake.received_via.value.replace('_', ' ')}" if intake.received_via else ""
        lines.append(f"reported{how} by {who or 'unknown'}; taken by {detail.reporter}")
    if intake.actions_taken:
        lines.append(f"already done: {intake.actions_taken}")
    if intake.others_told:
        lines.append(f"also told: {intake.others_told}")
    return lines


def duty_label(kind: str, sequence: int, hop: str | None) -> str:
    """A duty as the API names it: followup #2, hop to-city."""
    return f"hop {hop}" if hop else f"{kind} #{sequence}"


def incident_line(view: IncidentView) -> str:
    return (
        f"{view.id:>6}  {view.status.value:<12} {view.level.value:<3} {view.unit:<16} {view.title}"
    )


def open_duty_line(incident: IncidentRow, duty: ReportDutyRow, zone: tzinfo, now: datetime) -> str:
    """One open report duty; due time in the incident unit's zone, lateness if overdue."""
    lateness = overdue_by(duty.due_at, now)
    late = f"LATE {format_duration(lateness)}" if lateness is not None else "due"
    label = duty_label(duty.kind, duty.sequence, duty.hop)
    return (
        f"#{incident.id:<5} {incident.unit_id:<14} {label:<16}"
        f"{minute(duty.due_at, zone)}  {late:<12} {duty_name(duty, 'zh')}  "
        f"responsible {duty.responsible_desc}  {incident.title}"
    )


def report_stats_line(s: UnitReportStats) -> str:
    return (
        f"{s.unit:<16} on time {s.on_time:>4}  late {s.late:>4}  missing {s.missing:>4}  "
        f"pending {s.pending:>4}"
    )


def holder_line(h: RoleHolder) -> str:
    return f"{h.unit_id:<16} {h.role:<18} {h.person.name} ({h.person.id})"


def violation_line(v: Violation, zone: tzinfo) -> str:
    """A gap or broken rule of the roster, its period in the unit's zone."""
    return (
        f"{v.unit:<16} {minute(v.start, zone)} – {minute(v.end, zone)}  {v.rule:<32} "
        f"{','.join(v.people) or '-':<20} {v.detail}"
    )


def version_line(row: RosterVersionRow, in_force: int, zone: tzinfo) -> str:
    """A stored roster version; * marks the one in force."""
    return (
        f"{'*' if row.id == in_force else ' '} {row.id:>5}  "
        f"{minute(row.created_at, zone)}  {row.created_by:<20} {row.comment}"
    )


def handover_started(row: HandoverRow) -> str:
    listed = "; ".join(f"#{i['id']} {i['title']} ({i['status']})" for i in row.open_incidents)
    return (
        f"handover {row.id}: {len(row.open_incidents)} open incident(s)"
        f"{': ' + listed if listed else ''}; expected successor: {row.incoming or '?'}"
    )


def token_line(row: ApiTokenRow) -> str:
    state = "revoked" if row.revoked_at else "active"
    return f"{row.name:<24} {row.role:<14} {state}"


def plan_line(loaded: LoadedPlan) -> str:
    return f"ok  {loaded.plan.id:<28} {loaded.plan.kind.value:<10} {loaded.source_file}"
