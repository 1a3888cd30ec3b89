"""The duty office's own work: shift reminders, the daily look for roster gaps, handovers,
roster edits and overrides (with who may approve them), for the API and the CLI alike."""
