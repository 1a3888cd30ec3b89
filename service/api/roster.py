"""Roster endpoints: who is on, the roster itself, overrides, checks, feeds and handovers."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from service.api.deps import Caller, DutydDep, PageSize, RowId, SessionDep
from service.auth.tokens import Role
from service.errors import InvalidInput, NotFound
from service.office import handover
from service.office.overrides import approve_override as approval
from service.office.overrides import request_override
from service.office.roster_edits import version_to_restore
from service.roster import feeds
from service.roster import store as roster_store
from service.roster.check import check_roster
from service.roster.csvio import export_duty_table, parse_duty_table
from service.roster.edits import with_duty_table
from service.roster.ical import feed as ical_feed
from service.roster.models import RotatingRole
from service.roster.report import on_duty

router = APIRouter(tags=["roster"])


class RoleHolderView(BaseModel):
    unit: str
    role: str
    person_id: str
    name: str


@router.get("/api/v1/roster/now", response_model=list[RoleHolderView])
async def roster_now(
    caller: Caller, dutyd: DutydDep, unit: str | None = None, at: AwareDatetime | None = None
) -> list[RoleHolderView]:
    """Who holds each role in each unit at `at` (default now), overrides applied."""
    instant: datetime = at or dutyd.clock.now()
    return [
        RoleHolderView(unit=h.unit_id, role=h.role, person_id=h.person.id, name=h.person.name)
        for h in on_duty(dutyd.runtime.roster, instant, unit)
    ]


@router.get("/api/v1/roster")
async def get_roster(caller: Caller, dutyd: DutydDep) -> dict[str, Any]:
    """The roster in force and its version number."""
    document = dutyd.runtime.roster.document.model_dump(mode="json")
    return {"version": dutyd.runtime.roster_version, "roster": document}


@router.put("/api/v1/roster")
async def put_roster(
    caller: Caller,
    dutyd: DutydDep,
    session: SessionDep,
    roster: Annotated[dict[str, Any], Body()],
    comment: str = "",
) -> dict[str, int]:
    """Replace the whole roster (admin). Refused with every problem if it breaks a plan or rule."""
    version = await dutyd.store_roster(
        session,
        roster,
        actor=caller.name,
        comment=comment or "replaced by API",
        source="request",
    )
    return {"version": version}


class RosterVersionView(BaseModel):
    version: int
    created_at: datetime
    created_by: str
    comment: str
    in_force: bool


@router.get("/api/v1/roster/versions", response_model=list[RosterVersionView])
async def list_versions(
    caller: Caller, dutyd: DutydDep, session: SessionDep, limit: PageSize = 50
) -> list[RosterVersionView]:
    """Every stored version of the roster (newest first): when, by whom, why."""
    rows = await roster_store.list_versions(session, limit)
    return [
        RosterVersionView(
            version=row.id,
            created_at=row.created_at,
            created_by=row.created_by,
            comment=row.comment,
            in_force=row.id == dutyd.runtime.roster_version,
        )
        for row in rows
    ]


@router.get("/api/v1/roster/versions/{version_id}")
async def get_version(caller: Caller, session: SessionDep, version_id: RowId) -> dict[str, Any]:
    """One stored version, whole."""
    row = await roster_store.get_version(session, version_id)
    return {"version": row.id, "roster": json.loads(row.content)}  # as stored


@router.post("/api/v1/roster/versions/{version_id}/restore")
async def restore_version(
    version_id: RowId, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, int]:
    """Put an earlier version back in force as a new version (admin), checked like any edit."""
    data = await version_to_restore(session, dutyd.runtime, version_id)
    version = await dutyd.store_roster(
        session,
        data,
        actor=caller.name,
        comment=f"restored version {version_id}",
        source=f"roster version {version_id}",
    )
    return {"version": version, "restored": version_id}


@router.get("/api/v1/roster/export.yaml")
async def export_yaml(caller: Caller, dutyd: DutydDep) -> Response:
    text = roster_store.to_yaml(dutyd.runtime.roster.document)
    return Response(text, media_type="application/yaml; charset=utf-8")


@router.get("/api/v1/roster/duty-table.csv")
async def export_csv(caller: Caller, dutyd: DutydDep) -> Response:
    text = export_duty_table(dutyd.runtime.roster.document.duty_table)
    return Response(text, media_type="text/csv; charset=utf-8")


@router.put("/api/v1/roster/duty-table.csv")
async def import_csv(
    request: Request, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, int]:
    """Import a duty table (CSV); its lines replace lines for the same unit, role and date."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the duty table is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV",
            field="body",
        ) from None
    roster = dutyd.runtime.roster
    lines = parse_duty_table(text, roster, "duty-table.csv")
    data = with_duty_table(roster, lines)
    version = await dutyd.store_roster(
        session,
        data,
        actor=caller.name,
        comment=f"imported {len(lines)} duty table lines",
        source="duty-table.csv",
    )
    return {"version": version, "lines": len(lines)}


class OverrideRequest(BaseModel):
    unit: str
    role: RotatingRole
    start: AwareDatetime
    end: AwareDatetime
    person: str = Field(description="Who takes the shift.")
    replaces: str | None = Field(None, description="Only this person is replaced.")
    reason: str = ""
    requested_by: str | None = Field(None, description="Default: the caller.")
    approve: bool = Field(False, description="Approve at once (leaders and admins only).")


@router.post("/api/v1/roster/overrides", status_code=201)
async def add_override(
    body: OverrideRequest, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, Any]:
    """Record a swap or cover request; it takes effect once approved."""
    override, data = request_override(
        dutyd.runtime.roster,
        unit=body.unit,
        role=body.role,
        start=body.start,
        end=body.end,
        person=body.person,
        replaces=body.replaces,
        reason=body.reason,
        requested_by=body.requested_by or caller.name,
        approved_by=caller.name if body.approve else None,
        actor=caller.name,
        actor_role=Role(caller.role),
        now=dutyd.clock.now(),
    )
    version = await dutyd.store_roster(
        session, data, actor=caller.name, comment=f"override {override.id}", source="override"
    )
    return {"version": version, "override": override.model_dump(mode="json")}


@router.post("/api/v1/roster/overrides/{override_id}/approve")
async def approve_override(
    override_id: str, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, Any]:
    data = approval(
        dutyd.runtime.roster,
        override_id,
        approver=caller.name,
        approver_role=Role(caller.role),
        now=dutyd.clock.now(),
    )
    version = await dutyd.store_roster(
        session, data, actor=caller.name, comment=f"approved {override_id}", source="approval"
    )
    return {"version": version}


class ViolationView(BaseModel):
    unit: str
    start: datetime
    end: datetime
    rule: str
    people: list[str]
    detail: str


@router.get("/api/v1/roster/check", response_model=list[ViolationView])
async def check(
    caller: Caller,
    dutyd: DutydDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    unit: str | None = None,
) -> list[ViolationView]:
    """Every gap and rule violation in [start, end) (default: the next 7 days)."""
    runtime = dutyd.runtime
    begin = start or dutyd.clock.now()
    finish = end or begin + timedelta(days=runtime.rules.document.warn_days_ahead)
    if unit is not None:
        runtime.roster.unit(unit)
    # A year of a big roster is seconds of work: off the event loop, which pages people.
    found = await asyncio.to_thread(
        check_roster,
        runtime.roster,
        runtime.rules,
        runtime.calendar,
        begin,
        finish,
        [unit] if unit else None,
    )
    return [ViolationView(**{**v.__dict__, "people": list(v.people)}) for v in found]


class FeedRequest(BaseModel):
    kind: Literal["person", "unit"]
    subject: str


@router.post("/api/v1/roster/feeds", status_code=201)
async def create_feed(
    body: FeedRequest, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, str]:
    """A secret iCal link for a person's or unit's shifts; anyone with the link can read it."""
    token = await feeds.create_feed(
        session, dutyd.runtime.roster, kind=body.kind, subject=body.subject, now=dutyd.clock.now()
    )
    return {"url": f"{dutyd.settings.public_base_url.rstrip('/')}/calendar/{token}.ics"}


@router.post("/api/v1/roster/feeds/revoke")
async def revoke_feeds(
    body: FeedRequest, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, int]:
    """Revoke every link to a person's or unit's feed; they answer 404 from then on."""
    revoked = await feeds.revoke_feeds(
        session, dutyd.runtime.roster, kind=body.kind, subject=body.subject, now=dutyd.clock.now()
    )
    return {"revoked": revoked}


@router.get("/calendar/{token}.ics", include_in_schema=False)
async def calendar_feed(token: str, dutyd: DutydDep, session: SessionDep) -> Response:
    row = await feeds.resolve_feed(session, token)
    roster = dutyd.runtime.roster
    known = roster.people if row is not None and row.kind == "person" else roster.units
    if row is None or row.subject not in known:
        raise NotFound("calendar feed", "with that link")
    now = dutyd.clock.now()
    body = ical_feed(
        dutyd.runtime.roster,
        kind=row.kind,
        subject=row.subject,
        start=now - timedelta(days=30),
        end=now + timedelta(days=dutyd.settings.calendar_feed_days),
        now=now,
    )
    return Response(body, media_type="text/calendar; charset=utf-8")


class HandoverRequest(BaseModel):
    unit: str
    outgoing: str = Field(description="Person id of the outgoing duty officer.")
    notes: str = ""


class HandoverConfirm(BaseModel):
    person: str = Field(description="Person id of the incoming duty officer.")


def _handover_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "unit": row.unit_id,
        "created_at": row.created_at,
        "outgoing": row.outgoing,
        "incoming": row.incoming,
        "open_incidents": row.open_incidents,
        "pending_reports": row.pending_reports,
        "notes": row.notes,
        "confirmed_at": row.confirmed_at,
        "confirmed_by": row.confirmed_by,
    }


@router.post("/api/v1/handovers", status_code=201)
async def start_handover(
    body: HandoverRequest, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, Any]:
    """The outgoing officer's handover: open incidents of the unit are listed for the next."""
    row = await handover.start_handover(
        session,
        dutyd.runtime.roster,
        unit_id=body.unit,
        outgoing=body.outgoing,
        notes=body.notes,
        now=dutyd.clock.now(),
    )
    return _handover_view(row)


@router.post("/api/v1/handovers/{handover_id}/confirm")
async def confirm_handover(
    handover_id: RowId, body: HandoverConfirm, caller: Caller, dutyd: DutydDep, session: SessionDep
) -> dict[str, Any]:
    row = await handover.confirm_handover(
        session,
        dutyd.runtime.roster,
        handover_id=handover_id,
        person=body.person,
        now=dutyd.clock.now(),
    )
    return _handover_view(row)
