"""Every table, imported in one place so metadata and migrations see them all.

Each subject defines and owns its tables in its own `tables.py`; this module only
gathers them (for Alembic's `env.py` and the schema test), so it sits above all of them.
"""

from service.audit.tables import AuditRow
from service.auth.tables import ApiTokenRow
from service.drills.tables import DrillRow
from service.escalation.tables import EscalationStepRow
from service.incidents.tables import IncidentRow, SilenceRow, TimelineEntryRow
from service.instructions.tables import AssignmentRow, InstructionRow
from service.intake.tables import CheckInRow, MachineReportRow
from service.notify.tables import MessageEventRow, MessageRow
from service.office.tables import HandoverRow
from service.plans.tables import PlanSetRow, PlanVersionRow
from service.reports.tables import ReportDutyRow
from service.roster.tables import CalendarFeedRow, RosterVersionRow
from service.spotchecks.tables import SpotCheckRow
from service.store.base import Base
from service.store.job_runs import JobRunRow
from service.store.presence import HeartbeatRow
from service.warnings.relay_tables import RelayedWarningRow
from service.warnings.tables import (
    RecipientChannelRow,
    RecipientCodeRow,
    RecipientEventRow,
    RecipientRow,
    WarningIncidentRow,
    WarningRow,
    WarningStepRow,
)

__all__ = [
    "ApiTokenRow",
    "AssignmentRow",
    "AuditRow",
    "Base",
    "CalendarFeedRow",
    "CheckInRow",
    "DrillRow",
    "EscalationStepRow",
    "HandoverRow",
    "HeartbeatRow",
    "IncidentRow",
    "InstructionRow",
    "JobRunRow",
    "MachineReportRow",
    "MessageEventRow",
    "MessageRow",
    "PlanSetRow",
    "PlanVersionRow",
    "RecipientChannelRow",
    "RecipientCodeRow",
    "RecipientEventRow",
    "RecipientRow",
    "RelayedWarningRow",
    "ReportDutyRow",
    "RosterVersionRow",
    "SilenceRow",
    "SpotCheckRow",
    "TimelineEntryRow",
    "WarningIncidentRow",
    "WarningRow",
    "WarningStepRow",
]
