"""Prometheus metrics dutyd exposes at /metrics."""

from prometheus_client import Counter, Gauge

INCIDENTS_REPORTED = Counter("dutyd_incidents_reported_total", "Incidents logged.", ["level"])
STEPS_FIRED = Counter("dutyd_escalation_steps_fired_total", "Escalation steps fired.")
MESSAGES_ATTEMPTED = Counter("dutyd_messages_attempted_total", "Messages handed to transports.")
ENGINE_RUNS = Counter("dutyd_engine_runs_total", "Engine passes over due work.")
ENGINE_REPORTS_PASSES = Counter(
    "dutyd_engine_reports_passes_total", "Engine passes over waiting machine reports alone."
)
ENGINE_ERRORS = Counter("dutyd_engine_errors_total", "Engine passes that failed.")
STORE_ERRORS = Counter(
    "dutyd_store_errors_total",
    "Readiness checks and requests that found the database unable to commit.",
)
PLANS_LOADED = Gauge("dutyd_plans_loaded", "Plans in force.")
PLAN_RELOADS = Counter("dutyd_plan_reloads_total", "Plan reloads, by result.", ["result"])
PLAN_RELOAD_OK = Gauge(
    "dutyd_plan_last_reload_ok", "1 if the last plan reload was applied, else 0."
)
MACHINE_REPORT_COMMITS = Counter(
    "dutyd_machine_report_commits_total",
    "Transactions storing machine reports: each holds every request that was waiting.",
)
MACHINE_REPORTS = Counter(
    "dutyd_machine_reports_total",
    "Machine reports by source and outcome (accepted, refused, rate_limited, bad_signature, "
    "check_in, imap_error; not_worked: stored, but the engine could not make it incident work).",
    ["source", "outcome"],
)
