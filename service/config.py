"""All of dutyd's settings, in one class.

Values come, highest precedence first, from: arguments given in code, `DUTYD_*`
environment variables, files in the secrets directory (`DUTYD_SECRETS_DIR`, one file
per setting named like the setting), and the YAML settings file (`DUTYD_CONFIG`,
default `config/dutyd.yaml`). Secrets may never come from the YAML file, which is
meant to be committed and shared.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from service.errors import ConfigError

SECRET_SETTINGS = ("twilio_auth_token", "smtp_password", "ack_link_secret", "cap_signing_key")
DEFAULT_CONFIG_FILE = Path("config/dutyd.yaml")


class SmtpSecurity(StrEnum):
    none = "none"
    starttls = "starttls"
    tls = "tls"


class LogFormat(StrEnum):
    console = "console"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUTYD_", extra="forbid", validate_default=True)

    # Where things live
    data_dir: Path = Field(Path("data"), description="Directory for the SQLite file and state.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL. Default: SQLite file dutyd.db in data_dir. "
        "Production: postgresql+asyncpg://user:pass@host/db.",
    )
    plans_dir: Path = Field(Path("plans"), description="Directory of emergency plan YAML files.")
    roster_file: Path = Field(
        Path("config/roster.yaml"),
        description="Roster seed (YAML): loaded into a new database once; after that the "
        "roster lives in the database (`dutyd roster import` loads a file again).",
    )
    duty_rules_file: Path = Field(
        Path("config/duty_rules.yaml"), description="Leader-on-shift and duty rules (YAML)."
    )
    warnings_file: Path = Field(
        Path("config/warnings.yaml"),
        description="Public warnings: who reviews and signs by level, issuing bodies, SMS "
        "pace (YAML; defaults when the file is missing).",
    )
    intake_file: Path = Field(
        Path("config/intake.yaml"),
        description="Machine sources (Alertmanager, webhooks, heartbeats, mail) and the rules "
        "that map their alerts to incidents (YAML; none when the file is missing).",
    )
    audit_anchor_file: Path | None = Field(
        None,
        description="Where the audit chain's head is written every 10 minutes (default: "
        "data_dir/audit-anchors.txt); keep it off the database's machine (a mounted share, a "
        "write-once store) to catch a rewrite of the database.",
    )
    timezone: str = Field("Asia/Shanghai", description="Display zone for units without one.")

    # HTTP
    http_host: str = Field("127.0.0.1", description="Address the API listens on.")
    http_port: int = Field(8640, ge=1, le=65535, description="Port the API listens on.")
    http_workers: int = Field(
        1,
        ge=1,
        le=32,
        description="Daemon processes serving the API, each with its own engine. On "
        "PostgreSQL they share the work; on SQLite they take turns at its one writer, which "
        "pays only where the HTTP layer is the limit (a storm of machine reports).",
    )
    http_trusted_proxies: str = Field(
        "127.0.0.1",
        max_length=1000,
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (so that login throttling sees each client's "
        "own address, and HTTPS is known); '*' trusts any.",
    )
    http_keep_alive_seconds: int = Field(
        120,
        ge=1,
        le=3600,
        description="How long an idle keep-alive connection stays open. Longer than the "
        "90 s Alertmanager's (Go's) HTTP client keeps one: a connection the server closes "
        "first can take a notification down with it.",
    )
    http_max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (a whole roster as JSON fits); more: 413.",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8640",
        description="URL at which the outside world (Twilio webhooks, links in mail) reaches us.",
    )

    # Console logins
    session_idle_minutes: int = Field(
        120, ge=5, le=24 * 60, description="A console session unused this long ends."
    )
    session_max_hours: int = Field(
        26,
        ge=1,
        le=24 * 7,
        description="A console session ends this long after login, used or not (a 24h shift "
        "and its handover fit).",
    )
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins in a row that lock an account."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=24 * 60, description="How long a locked account, or a noisy address, waits."
    )
    login_record_days: int = Field(
        400,
        ge=30,
        le=3660,
        description="How long the record of login attempts is kept, and ended console "
        "sessions after their end (a month at most), before the daily clean-up deletes them.",
    )
    spot_checks_per_shift: int = Field(
        0,
        ge=0,
        le=12,
        description="Duty spot-checks (查岗) at random moments of each shift; 0: none.",
    )
    spot_check_units: str = Field(
        "", max_length=2000, description="Comma-separated units spot-checked; empty: every unit."
    )
    spot_check_quiet_hours: str = Field(
        "",
        pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$",
        description="No spot-check in these hours of the unit's clock, e.g. 01:00-06:00.",
    )
    spot_check_answer_minutes: int = Field(
        10, ge=1, le=120, description="A spot-check unanswered this long is a lapse."
    )
    report_font: str = Field(
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        max_length=500,
        description="A TrueType font that writes Chinese, for PDF reports (drill reports, "
        "the monthly duty report); other common CJK fonts are tried when it is missing.",
    )
    cli_identity: Literal["optional", "required"] = Field(
        "optional",
        description="Whether every `dutyd` command that touches the duty office's records "
        "must name who acts (`--as PERSON`, checked against that person's roles); "
        "'optional' lets the machine's operator act without.",
    )
    invite_valid_hours: int = Field(
        72, ge=1, le=24 * 30, description="How long a one-time invitation link works."
    )

    # Engine
    engine_poll_seconds: float = Field(
        1.0, gt=0, description="Safety interval at which the engine looks for due work."
    )
    engine_batch_size: int = Field(100, ge=1, description="Due rows claimed per transaction.")
    outbox_lanes: int = Field(
        0,
        ge=0,
        le=16,
        description="Batches of messages one process sends at once; 0 picks 4 on PostgreSQL "
        "and 1 on SQLite (one writer at a time).",
    )
    send_lease_seconds: int = Field(
        120,
        ge=60,
        description="How long a process may hold a message it is sending before another "
        "process may take it over (the first one is presumed dead).",
    )
    worker_name: str | None = Field(
        None, description="Name of this process in claims; default host:pid."
    )

    learned_at_max_age_hours: float = Field(
        168,
        gt=0,
        description="A report saying the office learned of an event longer ago than this "
        "(or before it occurred) is refused unless it confirms the time (`confirm_learned_at`).",
    )

    # Rosters
    shift_reminder_hours: float = Field(
        12,
        ge=0,
        le=168,
        description="Remind each person this many hours before a shift (0: never).",
    )
    roster_check_time: str = Field(
        "07:00",
        pattern=r"^\d\d:\d\d$",
        description="Local time (settings timezone) of the daily roster check.",
    )
    calendar_feed_days: int = Field(60, ge=1, le=400, description="Days ahead an iCal feed shows.")

    # Delivery
    delivery_max_attempts: int = Field(
        6, ge=1, le=20, description="Tries per message before failing over to the next contact."
    )
    delivery_retry_minutes: float = Field(
        30,
        ge=0,
        description="A message refused for a passing reason (provider or mail server down) "
        "is retried this long after it was queued; after delivery_max_attempts tries its "
        "text also goes to the person's next contact.",
    )
    delivery_backoff_seconds: float = Field(
        10, gt=0, description="First retry delay; doubles each try (with jitter)."
    )
    delivery_backoff_max_seconds: float = Field(600, gt=0, description="Longest retry delay.")
    digest_threshold: int = Field(
        3,
        ge=2,
        le=100,
        description="Messages due at once for one person and channel that go as one digest.",
    )
    rate_limit_per_minute: int = Field(
        6, ge=1, le=600, description="Messages per person and channel per minute; more wait."
    )
    digest_gather_seconds: float = Field(
        0.5, ge=0, le=10, description="A burst for one person within this goes as one digest."
    )
    cap_signing_key: SecretStr | None = Field(
        None,
        description="PEM private key published CAP is signed with (XML-DSig, RSA-SHA256), "
        "with cap_signing_cert_file. Secret: environment or secrets file only.",
    )
    cap_signing_cert_file: Path | None = Field(
        None, description="PEM certificate of cap_signing_key, sent in each signature."
    )
    ack_link_secret: SecretStr | None = Field(
        None,
        description="Key signing acknowledgement links in mail. Secret: environment or secrets "
        "file only. Unset: a random key kept in data_dir/ack_link_secret.",
    )
    ack_link_hours: float = Field(24, gt=0, description="How long an acknowledgement link works.")
    smtp_ca_file: Path | None = Field(
        None, description="CA bundle for the SMTP server's certificate (private CA)."
    )

    # Twilio (SMS)
    twilio_account_sid: str | None = Field(None, description="Twilio Account SID (AC...).")
    twilio_auth_token: SecretStr | None = Field(
        None, description="Twilio auth token. Secret: environment or secrets file only."
    )
    twilio_from_number: str | None = Field(None, description="Sender number in E.164 form.")
    twilio_messaging_service_sid: str | None = Field(
        None, description="Messaging Service SID (MG...); used instead of the sender number."
    )
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", description="Twilio REST API base URL (tests point it at a fake)."
    )

    # SMTP (email)
    smtp_host: str | None = Field(None, description="SMTP server host; unset means console.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: SmtpSecurity = Field(
        SmtpSecurity.starttls, description="none, starttls or tls (implicit TLS, port 465)."
    )
    smtp_username: str | None = Field(None, description="SMTP login user, if the server needs one.")
    smtp_password: SecretStr | None = Field(
        None, description="SMTP password. Secret: environment or secrets file only."
    )
    smtp_from: str = Field("dutyd@localhost", description="From address of outgoing mail.")
    smtp_timeout_seconds: float = Field(30, gt=0, description="SMTP connect and command timeout.")

    # Logging
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(LogFormat.console, description="console or json lines.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'dutyd.db').resolve()}"

    @property
    def twilio_configured(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def effective_audit_anchor_file(self) -> Path:
        return self.audit_anchor_file or self.data_dir / "audit-anchors.txt"

    def public_view(self) -> dict[str, Any]:
        """Settings safe to print or return: secrets shown only as set or unset."""
        view = self.model_dump(mode="json")
        for name in SECRET_SETTINGS:
            view[name] = "(set)" if getattr(self, name) else None
        if self.database_url and "@" in self.database_url:
            scheme, rest = self.database_url.split("://", 1)
            view["database_url"] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return view

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("DUTYD_CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = os.environ.get("DUTYD_SECRETS_DIR")
        if secrets_dir:
            sources.append(_SecretsDirSource(settings_cls, Path(secrets_dir)))
        if config_file.is_file():
            sources.append(_NoSecretsYamlSource(settings_cls, config_file))
        return tuple(sources)


class _NoSecretsYamlSource(YamlConfigSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        super().__init__(settings_cls, yaml_file=path)

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        misplaced = [name for name in SECRET_SETTINGS if name in data]
        if misplaced:
            raise ConfigError(
                f"{self.path}: {', '.join(misplaced)} must not be in the settings file; "
                f"set DUTYD_{misplaced[0].upper()} in the environment or put it in a file "
                f"named {misplaced[0]} in DUTYD_SECRETS_DIR"
            )
        return data


class _SecretsDirSource(PydanticBaseSettingsSource):
    """Reads one file per secret setting (Docker/Kubernetes secrets style)."""

    def __init__(self, settings_cls: type[BaseSettings], directory: Path) -> None:
        super().__init__(settings_cls)
        self.directory = directory

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        path = self.directory / field_name
        if field_name in SECRET_SETTINGS and path.is_file():
            return path.read_text(encoding="utf-8").strip(), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            value, _, _ = self.get_field_value(None, name)
            if value is not None:
                values[name] = value
        return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation failures into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
