"""What the daemon loads for public warnings at start-up: the rules file, and the key and
certificate published CAP is signed with."""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.errors import ConfigError
from service.warnings.workflow import WarningRules, load_warning_rules


@dataclass(frozen=True)
class WarningSetup:
    rules: WarningRules
    signing: tuple[bytes, bytes] | None  # key and certificate, PEM


def load_warning_setup(settings: Settings) -> WarningSetup:
    rules = load_warning_rules(settings.warnings_file)
    key, cert_file = settings.cap_signing_key, settings.cap_signing_cert_file
    if key is None and cert_file is None:
        return WarningSetup(rules, None)
    if key is None or cert_file is None:
        raise ConfigError(
            "CAP signing needs both cap_signing_key (a secret) and cap_signing_cert_file"
        )
    try:
        cert = cert_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cap_signing_cert_file {cert_file}: {exc.strerror}") from None
    if b"BEGIN CERTIFICATE" not in cert:
        raise ConfigError(f"cap_signing_cert_file {cert_file} holds no PEM certificate")
    return WarningSetup(rules, (key.get_secret_value().encode(), cert))
