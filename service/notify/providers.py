"""The transports the settings call for: Twilio and SMTP where configured, the console
for every channel that has no provider (said loudly at start-up)."""

from __future__ import annotations

import structlog

from service.catalog import Channel
from service.clock import Clock
from service.config import Settings
from service.notify.ack_links import AckLinks
from service.notify.cap_push import CapPushTransport
from service.notify.console import ConsoleTransport
from service.notify.transport import Transports

log = structlog.get_logger(__name__)


def build_transports(
    settings: Settings, clock: Clock, ack_links: AckLinks | None = None
) -> Transports:
    """Real providers where configured; the console for the rest, said loudly at start-up."""
    console = ConsoleTransport()
    transports: Transports = {
        Channel.sms: console,
        Channel.email: console,
        Channel.voice: console,
        Channel.cap: CapPushTransport(),
    }
    if settings.twilio_configured:
        from service.notify.twilio_sms import (  # aiohttp: only when used
            TwilioClient,
            TwilioSmsTransport,
            TwilioVoiceTransport,
        )

        assert settings.twilio_account_sid and settings.twilio_auth_token
        twilio = TwilioClient(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_base_url=settings.twilio_api_base_url,
        )
        callback = f"{settings.public_base_url.rstrip('/')}/twilio/status"
        transports[Channel.sms] = TwilioSmsTransport(
            twilio,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=callback,
        )
        if settings.twilio_from_number:
            transports[Channel.voice] = TwilioVoiceTransport(
                twilio,
                from_number=settings.twilio_from_number,
                public_base_url=settings.public_base_url,
                status_callback=callback,
            )
    if settings.smtp_configured:
        from service.notify.smtp_email import SmtpEmailTransport

        assert settings.smtp_host
        transports[Channel.email] = SmtpEmailTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from,
            timeout_seconds=settings.smtp_timeout_seconds,
            clock=clock,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            ack_link=(
                (
                    lambda m: (
                        ack_links.url(m.incident_id, m.person_id, clock.now())
                        if m.incident_id and m.person_id
                        else None
                    )
                )
                if ack_links
                else None
            ),
        )
    return transports


def announce(transports: Transports) -> None:
    """Say at start-up which provider carries each channel, loudly where none does."""
    for channel, transport in transports.items():
        if transport.name == "console":
            log.warning(
                "transport.console",
                channel=channel.value,
                note=f"NO {channel.value.upper()} PROVIDER CONFIGURED: "
                f"{channel.value} messages "
                "are printed to the console and NOT sent to anyone",
            )
        else:
            log.info("transport.ready", channel=channel.value, transport=transport.name)
