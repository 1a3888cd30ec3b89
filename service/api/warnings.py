"""Public warning endpoints: draft, submit, review, sign, the green channel, update, lift;
recipients by CSV, opt-out; each warning's steps and statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.deps import Caller, DutydDep, PageSize, ReadSessionDep, RowId
from service.app import Dutyd
from service.auth.accounts import principal_for_token
from service.auth.policy import Principal
from service.auth.tables import ApiTokenRow
from service.errors import InvalidInput
from service.flows import warnings as flow
from service.flows.warning_intake import draft_from_incident
from service.warnings.models import Area, Stage, WarningContent
from service.warnings.recipients import import_recipients, list_recipients, set_opt_out
from service.warnings.recipients_csv import parse_recipients
from service.warnings.tables import WarningRow
from service.warnings.views import WarningView, list_warnings, warning_detail, warning_view

router = APIRouter(prefix="/api/v1", tags=["warnings"])
WARNING = "/warnings/{warning_id}"


class Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(max_length=64)
    content: WarningContent
    incident_ids: list[int] = Field(default_factory=list, max_length=50)


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    comment: str = Field("", max_length=2000)


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", max_length=2000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class OptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=3, max_length=256)
    out: bool = True


class AddressView(BaseModel):
    channel: str
    address: str
    opted_out_at: datetime | None


class RecipientView(BaseModel):
    id: str
    name: str
    kind: str
    language: str
    area: Area
    groups: list[str]
    addresses: list[AddressView]


class ImportReport(BaseModel):
    stored: bool
    created: int = 0
    updated: int = 0
    rejected: list[dict[str, object]] = []


async def _step(
    dutyd: Dutyd,
    caller: ApiTokenRow,
    action: Callable[[AsyncSession, flow.WarningDesk, Principal], Awaitable[WarningRow]],
) -> WarningView:
    """One step of a warning in one transaction, then the engine is woken for its fan-out."""
    desk = flow.WarningDesk(
        dutyd.warning_rules, dutyd.runtime.roster, dutyd.clock.now(), dutyd.cap_signing
    )

    async def work(session: AsyncSession) -> WarningView:
        row = await action(session, desk, principal_for_token(caller))
        await session.flush()
        return warning_view(row)

    view = await flow.run_step(dutyd.sessions, dutyd.warning_gate.lock, work)
    dutyd.wake()
    return view


@router.post("/warnings", status_code=status.HTTP_201_CREATED, response_model=WarningView)
async def draft(body: Draft, caller: Caller, dutyd: DutydDep) -> WarningView:
    """Draft (制作) a warning for a unit; nothing goes out until it is signed."""
    return await _step(
        dutyd,
        caller,
        lambda s, d, p: flow.draft_warning(
            s, d, body.content, unit_id=body.unit, actor=p, incident_ids=body.incident_ids
        ),
    )


@router.post(
    "/incidents/{incident_id}/warning",
    status_code=status.HTTP_201_CREATED,
    response_model=WarningView,
)
async def draft_for_incident(incident_id: RowId, caller: Caller, dutyd: DutydDep) -> WarningView:
    """A warning draft prefilled from the incident (hazard, level, area, text), linked."""
    return await _step(
        dutyd, caller, lambda s, d, p: draft_from_incident(s, d, incident_id, actor=p)
    )


@router.get("/warnings", response_model=list[WarningView])
async def warnings(
    caller: Caller,
    session: ReadSessionDep,
    stage: Stage | None = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    limit: PageSize = 100,
) -> list[WarningView]:
    """Warning messages, the newest first."""
    return await list_warnings(session, stage=stage, unit=unit, limit=limit)


@router.get(WARNING, response_model=WarningView)
async def show(warning_id: RowId, caller: Caller, session: ReadSessionDep) -> WarningView:
    """The message with its steps, its chain and (once published) its statistics."""
    return await warning_detail(session, warning_id)


@router.put(WARNING, response_model=WarningView)
async def edit(
    warning_id: RowId, content: WarningContent, caller: Caller, dutyd: DutydDep
) -> WarningView:
    """Rewrite a draft (or one sent back with requested changes)."""
    return await _step(
        dutyd, caller, lambda s, d, p: flow.edit_warning(s, d, warning_id, content, p)
    )


@router.post(f"{WARNING}/submit", response_model=WarningView)
async def submit(warning_id: RowId, caller: Caller, dutyd: DutydDep) -> WarningView:
    """Send the draft for review (审核), or for sign-off where its level needs none."""
    return await _step(dutyd, caller, lambda s, d, p: flow.submit_warning(s, d, warning_id, p))


@router.post(f"{WARNING}/review", response_model=WarningView)
async def review(warning_id: RowId, body: Review, caller: Caller, dutyd: DutydDep) -> WarningView:
    """Approve, or request changes (back to a draft, with the comment)."""
    return await _step(
        dutyd,
        caller,
        lambda s, d, p: flow.review_warning(
            s, d, warning_id, p, approve=body.approve, comment=body.comment
        ),
    )


@router.post(f"{WARNING}/sign", response_model=WarningView)
async def sign(
    warning_id: RowId, caller: Caller, dutyd: DutydDep, body: Comment | None = None
) -> WarningView:
    """Sign off (签发): published at once, by every channel."""
    comment = body.comment if body else ""
    return await _step(
        dutyd, caller, lambda s, d, p: flow.sign_warning(s, d, warning_id, p, comment=comment)
    )


@router.post(f"{WARNING}/publish-now", response_model=WarningView)
async def publish_now(
    warning_id: RowId, body: Reason, caller: Caller, dutyd: DutydDep
) -> WarningView:
    """The green channel (绿色通道) for orange and red: one signer publishes at once."""
    return await _step(
        dutyd,
        caller,
        lambda s, d, p: flow.publish_at_once(s, d, warning_id, p, reason=body.reason),
    )


@router.post(f"{WARNING}/review-after", response_model=WarningView)
async def review_after(
    warning_id: RowId, body: Comment, caller: Caller, dutyd: DutydDep
) -> WarningView:
    """The review after the fact of a green-channel warning."""
    return await _step(
        dutyd,
        caller,
        lambda s, d, p: flow.review_after(s, d, warning_id, p, comment=body.comment),
    )


@router.post(f"{WARNING}/update", status_code=status.HTTP_201_CREATED, response_model=WarningView)
async def update(
    warning_id: RowId, content: WarningContent, caller: Caller, dutyd: DutydDep
) -> WarningView:
    """Draft an Update of a published warning (level, area or text); reviewed and signed
    as its level asks, or sent through the green channel."""
    return await _step(
        dutyd, caller, lambda s, d, p: flow.draft_update(s, d, warning_id, content, p)
    )


@router.post(f"{WARNING}/lift", status_code=status.HTTP_201_CREATED, response_model=WarningView)
async def lift(warning_id: RowId, body: Reason, caller: Caller, dutyd: DutydDep) -> WarningView:
    """Lift (解除) in one action: the Cancel goes at once to everyone the warning reached;
    nothing more of it goes out."""
    return await _step(
        dutyd, caller, lambda s, d, p: flow.lift_warning(s, d, warning_id, p, reason=body.reason)
    )


@router.post(f"{WARNING}/withdraw", response_model=WarningView)
async def withdraw(warning_id: RowId, body: Reason, caller: Caller, dutyd: DutydDep) -> WarningView:
    """Drop a warning that was never published."""
    return await _step(
        dutyd,
        caller,
        lambda s, d, p: flow.withdraw_draft(s, d, warning_id, p, reason=body.reason),
    )


@router.put("/recipients.csv", response_model=ImportReport)
async def import_csv(
    caller: Caller,
    dutyd: DutydDep,
    text: Annotated[str, Body(media_type="text/csv", max_length=50_000_000)],
) -> ImportReport:
    """Import recipients from CSV (docs/warnings.md): every rejected line is reported
    with its field and reason, and then nothing is stored."""
    parsed = parse_recipients(text)
    if parsed.rejected:
        return ImportReport(
            stored=False,
            rejected=[
                {"line": r.line, "field": r.field, "reason": r.reason} for r in parsed.rejected
            ],
        )
    async with dutyd.sessions.begin() as session:
        result = await import_recipients(
            session, parsed.recipients, dutyd.clock.now(), source=f"api by {caller.name}"
        )
    return ImportReport(stored=True, created=result.created, updated=result.updated)


@router.get("/recipients", response_model=list[RecipientView])
async def recipients(
    caller: Caller,
    session: ReadSessionDep,
    area: Annotated[
        str | None,
        Query(pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="Under this division code."),
    ] = None,
    limit: PageSize = 100,
) -> list[RecipientView]:
    """Recipients with their addresses and opt-outs, those under a division code if given."""
    return [
        RecipientView(
            id=item.row.external_id,
            name=item.row.name,
            kind=item.row.kind,
            language=item.row.language,
            area=Area.model_validate(item.row.area),
            groups=item.row.groups,
            addresses=[
                AddressView(channel=c.channel, address=c.address, opted_out_at=c.opted_out_at)
                for c in item.channels
            ],
        )
        for item in await list_recipients(session, area=area, limit=limit)
    ]


@router.post("/recipients/opt-out", response_model=dict[str, list[int]])
async def opt_out(body: OptOut, caller: Caller, dutyd: DutydDep) -> dict[str, list[int]]:
    """Opt an address out of public warnings (or back in with `out: false`)."""
    async with dutyd.sessions.begin() as session:
        touched = await set_opt_out(
            session, body.address, out=body.out, now=dutyd.clock.now(), via=f"api {caller.name}"
        )
    if not touched:
        raise InvalidInput(f"no recipient has the address {body.address}", field="address")
    return {"recipients": touched}
