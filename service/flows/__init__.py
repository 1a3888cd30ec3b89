"""Where subjects act together: the only code that makes incidents, escalation, reports
and notifications move as one (log an incident, re-plan, acknowledge, resolve; the
engine's due work; what people answer; delivery results back onto the timeline)."""
