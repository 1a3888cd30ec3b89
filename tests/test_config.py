"""Settings: file plus environment; secrets never from the file, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import load_settings
from service.errors import ConfigError


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings file sets values; DUTYD_* variables override them."""
    config = tmp_path / "dutyd.yaml"
    config.write_text("http_port: 9000\ntimezone: Asia/Urumqi\n", encoding="utf-8")
    monkeypatch.setenv("DUTYD_CONFIG", str(config))
    assert load_settings().http_port == 9000
    monkeypatch.setenv("DUTYD_HTTP_PORT", "9100")
    settings = load_settings()
    assert settings.http_port == 9100 and settings.timezone == "Asia/Urumqi"


def test_secret_in_settings_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password in the (shared, committed) settings file is an error naming the way out."""
    config = tmp_path / "dutyd.yaml"
    config.write_text("smtp_host: mail\nsmtp_password: hunter2\n", encoding="utf-8")
    monkeypatch.setenv("DUTYD_CONFIG", str(config))
    with pytest.raises(ConfigError, match="smtp_password must not be in the settings file") as err:
        load_settings()
    assert "hunter2" not in str(err.value)


def test_secret_from_secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets may come from one file each in DUTYD_SECRETS_DIR; views show only (set)."""
    (tmp_path / "twilio_auth_token").write_text("tok-123\n", encoding="utf-8")
    monkeypatch.setenv("DUTYD_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get_secret_value() == "tok-123"
    assert settings.public_view()["twilio_auth_token"] == "(set)"
    assert "tok-123" not in repr(settings)


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed setting is reported by name."""
    monkeypatch.setenv("DUTYD_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("DUTYD_HTTP_PORT", "http")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "setting timezone" in str(err.value) and "setting http_port" in str(err.value)


def test_database_password_is_masked() -> None:
    settings = load_settings(database_url="postgresql+asyncpg://dutyd:s3cret@db/dutyd")
    assert "s3cret" not in str(settings.public_view())
