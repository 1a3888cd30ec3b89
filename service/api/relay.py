"""Relay from upstream over the API: a producer (the weather bureau) POSTs its CAP to
dutyd, with the bearer token its source in the warnings file names (`relay.sources`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status

from service.api.deps import Caller, DutydDep
from service.errors import Forbidden, InvalidInput, NotFound
from service.flows.warning_relay import RelayOutcome, read_upstream
from service.flows.warning_relay_poll import take_in
from service.warnings.cap import CapInvalid, CapRefused

router = APIRouter(prefix="/api/v1", tags=["warnings"])
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
SourceName = Annotated[str, Path(max_length=64, description="A source in relay.sources.")]


@router.post("/relay/{source}", response_model=RelayOutcome)
async def relay(
    source: SourceName, request: Request, caller: Caller, dutyd: DutydDep
) -> RelayOutcome:
    """Take in one upstream CAP 1.2 document (body: application/cap+xml). It is parsed
    safely (a DTD or entity is refused, never expanded: 400), checked against the schema
    (422) and the source's sender (403); a repeat changes nothing. By rule it becomes a
    draft for review or is relayed at once; an Update updates, a Cancel lifts."""
    found = dutyd.warning_rules.relay.source(source)
    if found is None:
        raise NotFound("relay source", source)
    if found.token_name is None or caller.name != found.token_name:
        raise Forbidden(f"token {caller.name} may not relay for source {source}")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CAP_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the CAP document as {CAP_TYPES[0]} (or {CAP_TYPES[1]}), not {kind or 'nothing'}",
        )
    data = await request.body()
    try:
        # Parsing and the schema check are CPU work: off the event loop.
        alert = await asyncio.to_thread(read_upstream, data, found)
    except CapRefused as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"CAP refused: {exc.reason}") from None
    except CapInvalid as exc:
        raise InvalidInput(str(exc)) from None
    return await take_in(dutyd, found, alert, via="post")
