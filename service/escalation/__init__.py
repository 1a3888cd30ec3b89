"""Escalation: pure step logic and the engine that claims due work from the database."""
