"""The audit log: changes made through the API are recorded with who, from where and what
changed; the hash chain is sealed and anchored; an entry edited, deleted or inserted
directly in the database is found by `verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from service.audit import chain
from service.audit.tables import AuditRow
from service.auth.tokens import Role
from tests.api_helpers import api_client
from tests.conftest import Daemon

FLOOD = {
    "category": "natural_disaster",
    "event_type": "flood",
    "level": "IV",
    "unit": "qingshan",
    "title": "审计测试",
}


async def verdict(daemon: Daemon) -> chain.Verdict:
    dutyd = daemon.dutyd
    async with dutyd.reads() as session:
        return await chain.verify(session, dutyd.settings.effective_audit_anchor_file)


async def sql(daemon: Daemon, statement: str, **values: Any) -> None:
    async with daemon.dutyd.sessions.begin() as session:
        await session.execute(text(statement), values)


async def test_changes_are_recorded_and_tampering_is_found(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk-7")
    incident = (await desk.post("/api/v1/incidents", json=FLOOD)).json()
    await desk.post(f"/api/v1/incidents/{incident['id']}/ack")
    await desk.post(
        f"/api/v1/incidents/{incident['id']}/status", json={"status": "responding", "note": "到场"}
    )
    assert await dutyd.seal_audit() >= 3
    async with dutyd.reads() as session:
        rows = list(await session.scalars(select(AuditRow).order_by(AuditRow.seq)))
    reported = next(r for r in rows if r.action == "POST /api/v1/incidents")
    assert reported.actor == "desk-7" and reported.actor_kind == "token"
    assert f"incidents:{incident['id']}" in reported.subjects
    acked = next(r for r in rows if r.action.endswith("/ack"))
    columns = acked.changes[f"incidents:{incident['id']}"]["columns"]
    assert columns["status"] == ["reported", "acknowledged"]
    assert all(r.hash and r.prev_hash for r in rows)
    good = await verdict(daemon)
    assert good.problem is None and good.entries == len(rows)
    assert await dutyd.anchor_audit() is not None
    assert dutyd.settings.effective_audit_anchor_file.read_text().startswith(f"{len(rows)} ")
    await dutyd.seal_audit()  # the anchor's own entry

    # Edited: caught, naming the entry; put back, the chain is whole again.
    await sql(daemon, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    edited = await verdict(daemon)
    assert edited.problem is not None and "entry 2" in edited.problem and "edited" in edited.problem
    await sql(daemon, "UPDATE audit_log SET actor = :actor WHERE seq = 2", actor=rows[1].actor)
    assert (await verdict(daemon)).problem is None

    # Deleted from the middle.
    await sql(daemon, "DELETE FROM audit_log WHERE seq = 2")
    deleted = await verdict(daemon)
    assert deleted.problem is not None and "entry 2 is missing" in deleted.problem

    # Inserted out of order (a fabricated entry given a place in the chain).
    await sql(daemon, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    inserted = await verdict(daemon)
    assert inserted.problem is not None and "does not follow" in inserted.problem

    # The last entries deleted: only the anchor outside the database can tell.
    await desk.aclose()


async def test_a_truncated_tail_is_caught_by_the_anchor(daemon: Daemon) -> None:
    dutyd = daemon.dutyd
    desk = await api_client(dutyd, Role.duty_officer, "desk-8")
    for _ in range(3):
        await desk.post("/api/v1/incidents", json=FLOOD)
    await dutyd.seal_audit()
    anchored = await dutyd.anchor_audit()
    assert anchored is not None
    await sql(daemon, "DELETE FROM audit_log WHERE seq >= :seq", seq=anchored[0] - 1)
    cut = await verdict(daemon)
    assert cut.problem is not None and "were deleted" in cut.problem
    await desk.aclose()


async def test_console_logins_and_cli_commands_are_recorded(daemon: Daemon) -> None:
    from service.auth.policy import Grant
    from tests.web.console_helpers import console_client

    dutyd = daemon.dutyd
    client = await console_client(dutyd, "sun_li", Grant(Role.duty_officer, "qingshan"))
    page = await client.get("/console/incidents/new")
    from tests.web.console_helpers import csrf_of

    made = await client.post(
        "/console/incidents/new",
        data={**FLOOD, "confirm_new": "yes", "csrf": csrf_of(page.text)},
    )
    assert made.status_code == 303
    await dutyd.seal_audit()
    async with dutyd.reads() as session:
        rows = list(await session.scalars(select(AuditRow).where(AuditRow.actor == "sun_li")))
    assert any(r.actor_kind == "person" and r.action == "POST /console/incidents/new" for r in rows)
    await client.aclose()
