"""Incidents: reporting, acknowledgement and the per-incident timeline."""
