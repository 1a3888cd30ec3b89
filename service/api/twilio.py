"""Twilio's webhooks: delivery reports, SMS replies, keys pressed on calls.

Every request must carry a valid X-Twilio-Signature for the public URL it was sent to
(`public_base_url` + path); anything else is refused with 403 and changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from service.api.deps import DutydDep, MessageId, MessageRowId
from service.flows import replies
from service.notify.status import record_status
from service.notify.twilio_sms import VOICE_LANGUAGES

router = APIRouter(prefix="/twilio", tags=["twilio webhooks"], include_in_schema=False)
TWIML = "application/xml"


async def signed_form(request: Request, dutyd: DutydDep) -> dict[str, str]:
    token = dutyd.settings.twilio_auth_token
    if token is None:
        raise HTTPException(status_code=403, detail="Twilio is not configured")
    form = {k: str(v) for k, v in (await request.form()).items()}
    url = dutyd.settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token.get_secret_value()).validate(url, form, signature):
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return form


SignedForm = Annotated[dict[str, str], Depends(signed_form)]


@router.post("/status")
async def status_callback(
    form: SignedForm, dutyd: DutydDep, m: MessageId | None = None
) -> Response:
    """Delivery reports for messages and calls; undelivered or failed fails over."""
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    async with dutyd.sessions.begin() as session:
        failed = await record_status(
            session,
            provider_id=sid,
            message_id=m,
            status=status,
            error_code=form.get("ErrorCode"),
            now=dutyd.clock.now(),
        )
        if failed is not None:
            await dutyd.engine.outbox.reported_failed(
                session, failed, f"not delivered: {status}", dutyd.clock.now()
            )
    dutyd.wake()
    return Response(status_code=204)


@router.post("/sms")
async def inbound_sms(form: SignedForm, dutyd: DutydDep) -> Response:
    """A reply: 1/ACK acknowledges, 2/ESC escalates; anything else gets help and changes nothing."""
    async with dutyd.sessions.begin() as session:
        answer = await replies.handle_sms_reply(
            session,
            dutyd.runtime.roster,
            dutyd.runtime.plans,
            sender=form.get("From", ""),
            body=form.get("Body", ""),
            now=dutyd.clock.now(),
        )
    dutyd.wake()
    reply = MessagingResponse()
    reply.message(answer.text)
    return Response(str(reply), media_type=TWIML)


@router.post("/voice/{message_id}")
async def call_keys(message_id: MessageRowId, form: SignedForm, dutyd: DutydDep) -> Response:
    """The key pressed during an alert call: 1 acknowledges, 2 escalates."""
    async with dutyd.sessions.begin() as session:
        answer = await replies.handle_call_digits(
            session,
            dutyd.runtime.roster,
            dutyd.runtime.plans,
            message_id=message_id,
            digits=form.get("Digits", ""),
            now=dutyd.clock.now(),
        )
    dutyd.wake()
    response = VoiceResponse()
    if answer.text:
        response.say(
            answer.text, language=VOICE_LANGUAGES["zh"] if answer.text[0] > "~" else "en-US"
        )
    response.hangup()
    return Response(str(response), media_type=TWIML)
