"""What no row change shows is on the audit record too: the settings a daemon starts with
(again only when they changed, secrets only as set or not), and each reload of the plans
with who asked, the version before and after, and a refused reload's problems."""

from __future__ import annotations

import contextvars
import shutil
from pathlib import Path

from sqlalchemy import select

from service.audit.tables import AuditRow
from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import REPO, Daemon
from tests.engine_helpers import start_dutyd


async def entries(daemon: Daemon, action: str) -> list[AuditRow]:
    async with daemon.dutyd.reads() as session:
        return list(
            await session.scalars(
                select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)
            )
        )


async def test_the_settings_a_daemon_starts_with(daemon: Daemon, tmp_path: Path) -> None:
    dutyd = daemon.dutyd
    (first,) = await entries(daemon, "settings in force")
    assert first.actor == "dutyd serve" and first.actor_kind == "system"
    values = first.changes["values"]
    assert values["timezone"] == "Asia/Shanghai" and values["twilio_auth_token"] is None
    assert values["smtp_password"] is None

    # Started again on the same database: unchanged, nothing new; changed, what changed.
    url = dutyd.settings.database_url
    again, _ = await start_dutyd(tmp_path, url, dutyd.clock)  # the very same settings
    await again.stop()
    assert len(await entries(daemon, "settings in force")) == 1
    changed, _ = await start_dutyd(
        tmp_path,
        url,
        dutyd.clock,
        spot_checks_per_shift=3,
        twilio_auth_token="a-secret-token",
    )
    await changed.stop()
    last = (await entries(daemon, "settings in force"))[-1]
    assert last.changes["changed"]["spot_checks_per_shift"] == [0, 3]
    assert last.changes["changed"]["twilio_auth_token"] == [None, "(set)"]
    assert "a-secret-token" not in str(last.changes)


async def test_plan_reloads_with_who_asked(daemon: Daemon, tmp_path: Path) -> None:
    dutyd = daemon.dutyd
    admin = await api_client(dutyd, Role.admin, "ops-admin")
    before = dutyd.runtime.plans.digest
    assert (await admin.post("/api/v1/plans/reload")).status_code == 200
    # A broken plan in the directory: the reload is refused, and that is recorded too.
    plans = tmp_path / "plans"
    shutil.copytree(REPO / "plans", plans)
    (plans / "broken.yaml").write_text("id: broken\nkind: nonsense\n", encoding="utf-8")
    dutyd.settings = dutyd.settings.model_copy(update={"plans_dir": plans})
    contextvars.Context().run(dutyd.reload_plans)  # as SIGHUP does: nobody acting
    await dutyd.tick()
    (reloaded,) = await entries(daemon, "plans reloaded")
    assert reloaded.actor == "ops-admin" and reloaded.changes["version"] == [before, before]
    (refused,) = await entries(daemon, "plans reload refused")
    assert refused.actor == "SIGHUP" and refused.actor_kind == "system"
    assert any("broken.yaml" in p for p in refused.changes["problems"])
    await admin.aclose()
