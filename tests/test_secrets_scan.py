"""No secret leaks: with recognisable secrets set, a whole scenario through the real
daemon, its API and the CLI; no log line, CLI output or API answer contains one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.cli_helpers import DUTYD, cli_env, run_cli
from tests.fakes.smtp import SmtpServer, free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

SECRETS = {
    "DUTYD_TWILIO_AUTH_TOKEN": AUTH_TOKEN,  # the fake checks it: recognisable enough
    "DUTYD_SMTP_PASSWORD": "SECRET-smtp-2b8d4e6f",
    "DUTYD_ACK_LINK_SECRET": "SECRET-acklink-9e1c5a3b",
}
FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


async def test_no_secret_appears_in_logs_cli_output_or_api_answers(tmp_path: Path) -> None:
    """Secrets reach the providers and sign links, and nowhere else a person can read."""
    twilio, smtp = FakeTwilio(), SmtpServer()
    await twilio.start()
    smtp.start()
    env = {
        **SECRETS,
        "DUTYD_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "DUTYD_TWILIO_FROM_NUMBER": FROM_NUMBER,
        "DUTYD_TWILIO_API_BASE_URL": twilio.url,
        "DUTYD_SMTP_HOST": "127.0.0.1",
        "DUTYD_SMTP_PORT": str(smtp.port),
        "DUTYD_SMTP_SECURITY": "none",
        # The sink has no AUTH: the login is refused as a settings error, and logged.
        "DUTYD_SMTP_USERNAME": "dutyd",
        "DUTYD_ENGINE_POLL_SECONDS": "0.2",
        "DUTYD_LOG_LEVEL": "DEBUG",
    }
    seen: list[tuple[str, str]] = []
    made = await asyncio.to_thread(
        run_cli, tmp_path, "token", "create", "--role", "admin", "scan", **env
    )
    token = made.stdout.strip()
    port = free_port()
    out, err = tmp_path / "daemon.out", tmp_path / "daemon.err"
    daemon = await asyncio.create_subprocess_exec(
        DUTYD,
        "serve",
        "--port",
        str(port),
        env=cli_env(tmp_path, **env),
        stdout=out.open("w"),
        stderr=err.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if (await api.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            created = (await api.post("/api/v1/incidents", json=FLOOD)).json()
            while time.monotonic() < deadline and not twilio.sent:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # the real daemon sends on its own schedule
            assert twilio.sent, "the scenario sent nothing: it would prove nothing"
            incident = f"/api/v1/incidents/{created['id']}"
            await api.post(f"{incident}/ack")
            for path in (
                incident,
                "/api/v1/incidents",
                "/api/v1/plans",
                "/api/v1/plans/status",
                "/api/v1/roster",
                "/api/v1/roster/now",
                "/api/v1/roster/versions",
                "/api/v1/silences",
                "/readyz",
                "/metrics",
                "/openapi.json",
            ):
                answer = await api.get(path)
                seen.append((f"GET {path}", answer.text))
            bad = await api.post("/api/v1/incidents", json={**FLOOD, "unit": "nowhere"})
            seen.append(("POST bad incident", bad.text))
        for command in (
            ["config", "show"],
            ["token", "list"],
            ["incident", "show", str(created["id"])],
            ["incident", "list"],
            ["plans", "check"],
        ):
            done = await asyncio.to_thread(run_cli, tmp_path, *command, **env)
            seen.append((" ".join(command), done.stdout + done.stderr))
    finally:
        daemon.terminate()
        await asyncio.wait_for(daemon.wait(), 20)
        await twilio.stop()
        smtp.stop()
    seen += [("daemon stdout", out.read_text()), ("daemon stderr", err.read_text())]
    assert "smtp.configuration_error" in err.read_text() + out.read_text()
    leaked = [(where, names) for where, text in seen if (names := leaks(text))]
    assert not leaked, leaked
