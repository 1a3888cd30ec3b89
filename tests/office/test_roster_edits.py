"""Roster edits through the office: overrides with who may approve them, and an edit put
in force only once it has committed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from service.auth.tokens import Role
from service.clock import FrozenClock
from service.errors import Forbidden, InvalidInput
from service.office.overrides import approve_override, request_override
from service.roster.loader import load_roster
from service.store.job_runs import JobRunRow
from tests.api_helpers import api_client
from tests.conftest import REPO
from tests.engine_helpers import start_dutyd

ROSTER = load_roster(REPO / "config" / "roster.yaml")
T = datetime.fromisoformat("2026-07-16T08:30:00+08:00")


def override_values(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "unit": "qingshan",
        "role": "duty_officer",
        "start": T,
        "end": T + timedelta(hours=24),
        "person": "sun_li",
        "replaces": None,
        "reason": "家中有事",
        "requested_by": "liu_yang",
        "approved_by": None,
        "actor": "liu_yang",
        "actor_role": Role.duty_officer,
        "now": T - timedelta(days=1),
    }
    values.update(changes)
    return values


def test_an_override_that_ends_before_it_starts_is_invalid_input() -> None:
    """End before start is InvalidInput naming the problem, not a pydantic error."""
    with pytest.raises(InvalidInput, match="an override must end after it starts"):
        request_override(ROSTER, **override_values(end=T - timedelta(hours=1)))  # type: ignore[arg-type]


def test_only_a_leader_or_admin_may_approve_an_override() -> None:
    """A duty officer may ask for an override, not approve one; a leader may do both."""
    with pytest.raises(Forbidden, match="approving an override needs one of leader, admin"):
        request_override(ROSTER, **override_values(approved_by="liu_yang"))  # type: ignore[arg-type]
    override, data = request_override(
        ROSTER,
        **override_values(approved_by="zhou_jun", actor="zhou_jun", actor_role=Role.leader),  # type: ignore[arg-type]
    )
    assert override.approved_by == "zhou_jun" and override.approved_at is not None
    assert data["overrides"][-1]["id"] == override.id
    pending, data = request_override(ROSTER, **override_values())  # type: ignore[arg-type]
    roster = ROSTER.from_document(type(ROSTER.document).model_validate(data))
    with pytest.raises(Forbidden):
        approve_override(
            roster, pending.id, approver="liu_yang", approver_role=Role.duty_officer, now=T
        )
    approved = approve_override(
        roster, pending.id, approver="zhou_jun", approver_role=Role.leader, now=T
    )
    assert approved["overrides"][-1]["approved_by"] == "zhou_jun"


async def test_api_answers_422_for_an_override_ending_before_it_starts(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """POST /api/v1/roster/overrides with end before start: 422 saying why; nothing stored."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        desk = await api_client(dutyd, Role.duty_officer)
        answer = await desk.post(
            "/api/v1/roster/overrides",
            json={
                "unit": "qingshan",
                "role": "duty_officer",
                "start": T.isoformat(),
                "end": (T - timedelta(hours=2)).isoformat(),
                "person": "sun_li",
            },
        )
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert "an override must end after it starts" in problem["msg"]
        assert (await desk.get("/api/v1/roster")).json()["version"] == 1
        await desk.aclose()
    finally:
        await dutyd.stop()


async def test_a_roster_edit_whose_commit_fails_is_not_put_in_force(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """The running roster changes only after the edit's transaction commits: a commit that
    fails, or a transaction rolled back after the edit, leaves it as it was."""
    dutyd, _ = await start_dutyd(tmp_path, database_url, clock)
    try:
        before = dutyd.runtime.roster, dutyd.runtime.roster_version
        _, data = request_override(
            ROSTER, **override_values(approved_by="admin", actor_role=Role.admin)
        )  # type: ignore[arg-type]
        with pytest.raises(IntegrityError):
            async with dutyd.sessions.begin() as session:
                await dutyd.store_roster(session, data, actor="t", comment="c", source="test")
                # Not before the commit either.
                assert (dutyd.runtime.roster, dutyd.runtime.roster_version) == before
                # Two runs of the same job under one key: the commit's flush fails.
                session.add(JobRunRow(job="probe", run_key="k", at=clock.now()))
                session.add(JobRunRow(job="probe", run_key="k", at=clock.now()))
        assert (dutyd.runtime.roster, dutyd.runtime.roster_version) == before
        with pytest.raises(RuntimeError):
            async with dutyd.sessions.begin() as session:
                await dutyd.store_roster(session, data, actor="t", comment="c", source="test")
                raise RuntimeError("the request failed after the edit")
        assert (dutyd.runtime.roster, dutyd.runtime.roster_version) == before
        async with dutyd.sessions.begin() as session:
            version = await dutyd.store_roster(session, data, actor="t", comment="c", source="test")
        assert dutyd.runtime.roster_version == version > before[1]
        assert len(dutyd.runtime.roster.document.overrides) == len(ROSTER.document.overrides) + 1
    finally:
        await dutyd.stop()
