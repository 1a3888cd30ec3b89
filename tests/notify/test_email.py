"""Mail: STARTTLS and login to a real server, HTML and text, threading, acknowledgement links."""

from __future__ import annotations

import re
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.smtp import AuthResult

from service.app import Dutyd
from service.auth.tokens import Role
from service.clock import FrozenClock
from service.notify.sms_text import fit_sms, segments
from tests.api_helpers import api_client
from tests.conftest import make_settings
from tests.fakes.smtp import SmtpServer
from tests.plan_helpers import write_plan

PLAN = """
id: mail
kind: master
title: 邮件通知
scope: {units: [linjiang]}
defaults:
  escalation:
    steps:
      - notify: [{role: duty_officer}]
        channels: [email]
        wait: 10m
      - notify: [{role: duty_officer}]
        channels: [email]
        wait: 10m
    after_last: stop
"""
FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "II",
    "unit": "qingshan",
    "title": "青山河水位超警戒",
}


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = auth_data.login == b"dutyd" and auth_data.password == b"s3cret-smtp"
    return AuthResult(success=ok, handled=False)


async def test_starttls_login_html_threading_and_ack_link(
    tmp_path: Path, clock: FrozenClock
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = SmtpServer(
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    server.start()
    plans = write_plan(tmp_path / "plans", "p.yaml", PLAN)
    settings = make_settings(
        tmp_path,
        plans_dir=plans.parent,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_username="dutyd",
        smtp_password="s3cret-smtp",
        smtp_ca_file=ca_file,
        smtp_from="dutyd@linjiang.example.gov.cn",
        public_base_url="https://dutyd.example.gov.cn",
        ack_link_secret="k" * 32,
    )
    dutyd = Dutyd(settings, clock=clock)
    await dutyd.start()
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
        await dutyd.tick()
        clock.advance(timedelta(minutes=10))
        await dutyd.tick()
        first, second = (m.message for m in server.received)
        assert first["Message-ID"] != second["Message-ID"]
        assert (
            first["References"]
            == second["References"]
            == (f"<dutyd.incident.{incident['id']}@linjiang.example.gov.cn>")
        )
        text = first.get_body(preferencelist=("plain",)).get_content()
        html = first.get_body(preferencelist=("html",)).get_content()
        assert "青山河水位超警戒" in text and "青山河水位超警戒" in html
        link = re.search(r"https://dutyd\.example\.gov\.cn(/ack/\S+)", text)
        assert link and link.group(1) in html
        path = link.group(1)

        anonymous = await api_client(dutyd, Role.duty_officer, name="browser")
        anonymous.headers.pop("Authorization")
        page = await anonymous.get(path)
        assert page.status_code == 200 and "<form" in page.text
        detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert detail["acknowledged_at"] is None  # opening the link changes nothing
        done = await anonymous.post(path)
        assert done.status_code == 200 and "已确认" in done.text
        detail = (await desk.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert detail["acknowledged_by"] == "sun_li"

        tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert (await anonymous.post(tampered)).status_code == 403
        clock.advance(timedelta(hours=25))
        expired = await anonymous.get(path)
        assert expired.status_code == 403 and "expired" in expired.text
    finally:
        await dutyd.stop()
        server.stop()


def test_chinese_sms_is_kept_to_a_few_segments() -> None:
    """UCS-2: 70 characters in one segment, 67 each when concatenated; longer is cut at a
    sentence end."""
    assert segments("短" * 70) == 1 and segments("短" * 71) == 2
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2
    long = "。".join(["青山河水位超过警戒线一点二米需要立即组织转移"] * 20) + "。"
    cut = fit_sms(long)
    assert segments(cut) <= 4 and cut.endswith("。") and long.startswith(cut)
    assert fit_sms("短消息") == "短消息"
