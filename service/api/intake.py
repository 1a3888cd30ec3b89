"""Machines reporting in: Alertmanager's webhook. A 202 means every alert of the request
is committed; what they become is the engine's work, moments later."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field, ValidationError

from service import metrics
from service.api.access import check_route_access
from service.api.deps import (
    Caller,
    DutydDep,
    PageSize,
    ReadSessionDep,
    RowId,
    bearer,
    get_dutyd,
)
from service.app import Dutyd
from service.audit.context import Actor, set_actor
from service.auth.tables import ApiTokenRow
from service.errors import AuthError, InvalidInput, NotFound, invalid_from
from service.flows.intake import confirm_mail, dismiss_mail, heartbeat
from service.incidents.models import IncidentReport
from service.intake.checkins import source_states
from service.intake.models import AmNotification
from service.intake.reports import mail_drafts, rows_from_alertmanager
from service.intake.rules import Source
from service.intake.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signature,
    source_secret,
)
from service.intake.tokens import TrustedTokens
from service.intake.webhook import WebhookBody, rows_from_webhook
from service.web.context import client_address

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])


class Accepted(BaseModel):
    source: str
    accepted: int


def source_of(dutyd: DutydDep, caller: ApiTokenRow, kind: str) -> tuple[str, Source]:
    """The source the caller's token reports for, which must be of this kind."""
    rules = dutyd.intake_rules
    name = rules.source_for_token(caller.name)
    # The token may report (the access policy said so); which source it speaks for is the
    # intake file's word: a token it does not name is a request that does not fit (422).
    if name is None:
        raise InvalidInput(
            f"token {caller.name} reports for no source: name it under `tokens` of a source "
            "in the intake file",
            field="token",
        )
    source = rules.sources[name]
    if source.kind != kind:
        raise InvalidInput(f"source {name} is a {source.kind} source, not {kind}", field="token")
    return name, source


def trusted_tokens(dutyd: Dutyd) -> TrustedTokens:
    tokens = _TRUSTED.get(dutyd)
    if tokens is None:
        tokens = _TRUSTED[dutyd] = TrustedTokens(dutyd.reads)
    return tokens


_TRUSTED: WeakKeyDictionary[Dutyd, TrustedTokens] = WeakKeyDictionary()


async def source_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiTokenRow:
    """As `Caller`, with the token trusted for a moment once found (intake.tokens): a storm
    is one token's thousands of requests a second."""
    dutyd = get_dutyd(request)
    token = await trusted_tokens(dutyd).authenticate(
        credentials.credentials if credentials else None
    )
    check_route_access(request, token)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    set_actor(
        Actor(
            token.name, "token", client_address(request), f"{request.method} {route}",
            dutyd.clock.now,
        )
    )  # fmt: skip
    return token


def accepted(source: str, count: int, status_code: int = 202) -> Response:
    body = Accepted(source=source, accepted=count).model_dump_json()
    return Response(body, status_code=status_code, media_type="application/json")


@router.post(
    "/alertmanager",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={429: {"description": "The source's rate limit: retry after Retry-After."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AmNotification.model_json_schema()}},
        }
    },
)
async def alertmanager(
    request: Request, caller: Annotated[ApiTokenRow, Depends(source_caller)]
) -> Response:
    """Alertmanager's webhook (`webhook_configs`, version 4), authenticated with a dutyd
    token in `http_config.authorization`. Firing alerts open or count on an incident,
    resolved ones resolve it, by the mapping rules of the intake file."""
    # The lean path of a storm: the body parsed once, by the model, and the answer written
    # directly (FastAPI would parse it to Python objects first, then validate those).
    dutyd = get_dutyd(request)
    name, source = source_of(dutyd, caller, "alertmanager")
    try:
        notification = AmNotification.model_validate_json(await request.body())
    except ValidationError as exc:
        metrics.MACHINE_REPORTS.labels(source=name, outcome="refused").inc()
        raise invalid_from(exc, "Alertmanager notification") from None
    return await accept_notification(dutyd, name, source, notification)


async def accept_notification(
    dutyd: Dutyd, name: str, source: Source, notification: AmNotification
) -> Response:
    """Store a valid notification's alerts, within the source's rate limit; then answer.
    (Also the end of the fast path, intake_fast_path.)"""
    now = dutyd.clock.now()
    wait = dutyd.intake_pace.take(name, source.rate_per_minute, len(notification.alerts), now)
    if wait is not None:
        metrics.MACHINE_REPORTS.labels(source=name, outcome="rate_limited").inc(
            len(notification.alerts)
        )
        answer = accepted(name, 0, status.HTTP_429_TOO_MANY_REQUESTS)
        answer.headers["Retry-After"] = str(int(wait) + 1)
        return answer
    rows = rows_from_alertmanager(name, notification, now)
    await dutyd.intake_writer.store(rows)  # the writer wakes the engine, once a commit
    metrics.MACHINE_REPORTS.labels(source=name, outcome="accepted").inc(len(rows))
    return accepted(name, len(rows))


@router.post(
    "/webhook/{source}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WebhookBody.model_json_schema()}},
        }
    },
)
async def webhook(
    source: str,
    request: Request,
    dutyd: DutydDep,
    response: Response,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=120)] = None,
) -> Accepted:
    """A generic JSON webhook, signed with the source's shared secret: HMAC-SHA256 of
    `<timestamp>.<body>` in `X-Dutyd-Signature` (`sha256=<hex>`), Unix seconds in
    `X-Dutyd-Timestamp` (a request older than five minutes is refused). A retry with the
    same `Idempotency-Key` is stored once."""
    known = dutyd.intake_rules.sources.get(source)
    if known is None or known.kind != "webhook":
        raise NotFound("webhook source", source)
    secret = source_secret(source)
    if secret is None:
        raise AuthError(f"source {source} has no shared secret set (DUTYD_INTAKE_SECRET_…)")
    body = await request.body()
    now = dutyd.clock.now()
    try:
        check_signature(secret, timestamp=timestamp, signature=signature, body=body, now=now)
    except AuthError:
        metrics.MACHINE_REPORTS.labels(source=source, outcome="bad_signature").inc()
        raise
    try:
        parsed = WebhookBody.model_validate_json(body)
    except ValidationError as exc:
        metrics.MACHINE_REPORTS.labels(source=source, outcome="refused").inc()
        raise invalid_from(exc, f"{source} webhook body") from None
    wait = dutyd.intake_pace.take(source, known.rate_per_minute, len(parsed.alerts), now)
    if wait is not None:
        metrics.MACHINE_REPORTS.labels(source=source, outcome="rate_limited").inc(
            len(parsed.alerts)
        )
        response.status_code = status.HTTP_429_TOO_MANY_REQUESTS
        response.headers["Retry-After"] = str(int(wait) + 1)
        return Accepted(source=source, accepted=0)
    rows = rows_from_webhook(source, parsed, now, idempotency_key)
    await dutyd.intake_writer.store(rows)
    metrics.MACHINE_REPORTS.labels(source=source, outcome="accepted").inc(len(rows))
    return Accepted(source=source, accepted=len(rows))


class CheckedIn(BaseModel):
    source: str
    resolved_silence: bool


@router.post("/heartbeat", response_model=CheckedIn)
async def check_in(caller: Caller, dutyd: DutydDep) -> CheckedIn:
    """A heartbeat source checks in (its token names it). Silent past `every_minutes`, it
    opens an incident for its unit's duty office; its return resolves that incident."""
    name, _ = source_of(dutyd, caller, "heartbeat")
    async with dutyd.sessions.begin() as session:
        resolved = await heartbeat(
            session,
            name,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            now=dutyd.clock.now(),
        )
    metrics.MACHINE_REPORTS.labels(source=name, outcome="check_in").inc()
    dutyd.wake()
    return CheckedIn(source=name, resolved_silence=resolved)


class SourceView(BaseModel):
    name: str
    kind: str
    every_minutes: int | None
    last_check_in: datetime | None
    silent: bool


@router.get("/sources", response_model=list[SourceView])
async def sources(caller: Caller, dutyd: DutydDep, session: ReadSessionDep) -> list[SourceView]:
    """Every machine source, with a heartbeat source's last check-in and whether it is silent."""
    return [
        SourceView(**vars(state))
        for state in await source_states(session, dutyd.intake_rules, dutyd.clock.now())
    ]


class MailDraft(BaseModel):
    id: int
    source: str
    received_at: datetime
    sender: str
    subject: str
    text: str
    attachments: list[dict[str, object]]


class Dismissal(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Confirmed(BaseModel):
    incident_id: int


@router.get("/drafts", response_model=list[MailDraft])
async def drafts(caller: Caller, session: ReadSessionDep, limit: PageSize = 100) -> list[MailDraft]:
    """Mail to the duty mailbox waiting for an officer: confirm it as an incident or dismiss it."""
    return [
        MailDraft(
            id=row.id,
            source=row.source,
            received_at=row.received_at,
            sender=row.labels.get("from", ""),
            subject=row.labels.get("subject", ""),
            text=row.annotations.get("text", ""),
            attachments=row.annotations.get("attachments", []),
        )
        for row in await mail_drafts(session, limit)
    ]


@router.post(
    "/drafts/{report_id}/confirm", status_code=status.HTTP_201_CREATED, response_model=Confirmed
)
async def confirm(
    report_id: RowId, report: IncidentReport, caller: Caller, dutyd: DutydDep
) -> Confirmed:
    """Log the incident the mail tells of (the officer's corrected record), its attachments kept."""
    async with dutyd.sessions.begin() as session:
        incident_id = await confirm_mail(
            session,
            report_id,
            report,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            actor=caller.name,
            now=dutyd.clock.now(),
            worker=dutyd.worker,
        )
    dutyd.wake()
    return Confirmed(incident_id=incident_id)


@router.post("/drafts/{report_id}/dismiss", status_code=status.HTTP_204_NO_CONTENT)
async def dismiss(report_id: RowId, body: Dismissal, caller: Caller, dutyd: DutydDep) -> None:
    """Not an incident (spam, a reply, a test): dismissed with the reason, kept on record."""
    async with dutyd.sessions.begin() as session:
        await dismiss_mail(
            session, report_id, actor=caller.name, reason=body.reason, now=dutyd.clock.now()
        )
