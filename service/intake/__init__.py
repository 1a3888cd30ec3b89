"""Machines reporting in: Alertmanager and other webhooks, heartbeats, mail. A report is
committed before it is answered, then turned into incident work by the engine."""
