"""What a monthly duty report says."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UnitLine(BaseModel):
    unit: str
    name: str
    incidents: int
    by_category: dict[str, int]
    acknowledged: int
    mean_minutes_to_acknowledge: float | None
    resolved: int
    mean_minutes_to_resolve: float | None
    reports_on_time: int
    reports_late: int
    reports_missing: int
    assignments: int
    assignments_closed_on_time: int
    spot_checks: int
    spot_checks_answered: int
    spot_check_lapses: int
    warnings_published: int
    warning_recipients: int

    @property
    def on_time_rate(self) -> float | None:
        made = self.reports_on_time + self.reports_late + self.reports_missing
        return self.reports_on_time / made if made else None


class LateLine(BaseModel):
    unit: str
    incident_id: int
    report: str
    responsible: str
    due_at: datetime
    submitted_at: datetime | None
    delay_minutes: int
    state: str  # late (迟报) or missing (漏报)
    explanation: str


class MonthlyBulletin(BaseModel):
    office: str
    month: str  # YYYY-MM
    timezone: str
    generated_at: datetime
    units: list[UnitLine]
    late: list[LateLine]
    # The on-time rate of reports (0..1) per unit name, for each of `months`.
    months: list[str]
    on_time_series: dict[str, list[float | None]]
    # Minutes from when the office learned of each incident to its acknowledgement.
    ack_minutes: list[float]
    # Incidents the office learned of in each hour of the day (its clock), 0..23.
    learned_by_hour: list[int] = Field(min_length=24, max_length=24)
