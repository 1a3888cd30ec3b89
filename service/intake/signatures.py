"""A generic webhook's proof: HMAC-SHA256 over `<timestamp>.<body>` with the source's
shared secret, the timestamp within a few minutes of now (an old request replayed is
refused). The secret comes from the environment or the secrets directory, never a file
under version control."""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime, timedelta
from pathlib import Path

from service.errors import AuthError

SIGNATURE_HEADER = "X-Dutyd-Signature"
TIMESTAMP_HEADER = "X-Dutyd-Timestamp"
MAX_SKEW = timedelta(minutes=5)


def secret_name(source: str) -> str:
    return "DUTYD_INTAKE_SECRET_" + source.upper().replace("-", "_")


def source_secret(source: str) -> bytes | None:
    """`DUTYD_INTAKE_SECRET_<SOURCE>`, or the file `intake_secret_<source>` in the secrets
    directory (`DUTYD_SECRETS_DIR`)."""
    value = os.environ.get(secret_name(source))
    if value:
        return value.encode()
    directory = os.environ.get("DUTYD_SECRETS_DIR")
    if directory:
        path = Path(directory) / f"intake_secret_{source}"
        if path.is_file():
            return path.read_bytes().strip()
    return None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_signature(
    secret: bytes, *, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> None:
    """Refuse (AuthError, naming what is wrong) unless the request is signed and fresh."""
    if not timestamp or not signature:
        raise AuthError(f"a signed request needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise AuthError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if abs(now - sent) > MAX_SKEW:
        raise AuthError(
            f"{TIMESTAMP_HEADER} is {int((now - sent).total_seconds())} s from now: more than "
            f"{int(MAX_SKEW.total_seconds())} s (a replayed or badly timed request)"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise AuthError("the signature does not match the body")
