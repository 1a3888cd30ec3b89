"""Signed, expiring links that acknowledge an incident from an email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.config import Settings
from service.errors import AuthError


def load_or_create_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, or one made once and kept in the data directory (mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "ack_link_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode()


class AckLinks:
    def __init__(self, secret: bytes, base_url: str, lifetime: timedelta) -> None:
        self._secret, self._base, self._lifetime = secret, base_url.rstrip("/"), lifetime

    @classmethod
    def from_settings(cls, settings: Settings) -> AckLinks:
        secret = settings.ack_link_secret
        return cls(
            load_or_create_secret(secret.get_secret_value() if secret else None, settings.data_dir),
            settings.public_base_url,
            timedelta(hours=settings.ack_link_hours),
        )

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def token(self, incident_id: int, person_id: str, now: datetime) -> str:
        expires = int((now + self._lifetime).timestamp())
        payload = f"{incident_id}.{person_id}.{expires}"
        return f"{payload}.{self._mac(payload)}"

    def url(self, incident_id: int, person_id: str, now: datetime) -> str:
        return f"{self._base}/ack/{self.token(incident_id, person_id, now)}"

    def verify(self, token: str, now: datetime) -> tuple[int, str]:
        """(incident id, person id), or AuthError if forged, damaged or expired."""
        parts = token.split(".")
        if len(parts) != 4:
            raise AuthError("this acknowledgement link is damaged")
        incident, person, expires, mac = parts
        payload = f"{incident}.{person}.{expires}"
        # Bytes: compare_digest refuses a str with other than ASCII in it.
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise AuthError("this acknowledgement link is not valid")
        try:  # signed by us, so well formed; checked all the same
            expiry = datetime.fromtimestamp(int(expires), UTC)
            int(incident)
        except (ValueError, OverflowError, OSError):
            raise AuthError("this acknowledgement link is damaged") from None
        if now > expiry:
            raise AuthError("this acknowledgement link has expired; acknowledge by SMS or API")
        return int(incident), person
