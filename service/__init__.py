"""dutyd: emergency duty and incident alerting for government duty offices."""

__version__ = "0.1.0"
