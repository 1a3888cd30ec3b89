"""Reporting duties (上报): initial, written, follow-up and final reports, and their deadlines."""
