"""Notifications: transports (Twilio SMS, SMTP email, console), rendering, delivery."""
