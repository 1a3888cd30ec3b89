"""Every table, imported in one place so metadata and migrations see them all."""

from service.auth.tables import ApiTokenRow
from service.escalation.tables import EscalationStepRow
from service.incidents.tables import IncidentRow, SilenceRow, TimelineEntryRow
from service.notify.tables import MessageEventRow, MessageRow
from service.plans.tables import PlanVersionRow
from service.reports.tables import ReportDutyRow
from service.roster.tables import CalendarFeedRow, HandoverRow, JobRunRow, RosterVersionRow
from service.store.base import Base

__all__ = [
    "ApiTokenRow",
    "Base",
    "CalendarFeedRow",
    "EscalationStepRow",
    "HandoverRow",
    "IncidentRow",
    "JobRunRow",
    "MessageEventRow",
    "MessageRow",
    "PlanVersionRow",
    "ReportDutyRow",
    "RosterVersionRow",
    "SilenceRow",
    "TimelineEntryRow",
]
