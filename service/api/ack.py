"""The page behind an email's acknowledgement link.

Opening the link (GET) only shows the incident and a button: mail scanners open links,
and must not acknowledge on a duty officer's behalf. The button (POST) acknowledges.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from service.api.deps import DutydDep
from service.errors import AuthError
from service.flows import incidents
from service.flows.incident_detail import get_incident_detail

router = APIRouter(include_in_schema=False)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f'</title><meta name="viewport" content="width=device-width"></head>'
        f'<body style="font-family:sans-serif;max-width:36em;margin:2em auto">{body}</body></html>',
        status_code=status,
    )


@router.get("/ack/{token}")
async def show(token: str, dutyd: DutydDep) -> HTMLResponse:
    try:
        incident_id, _person_id = dutyd.ack_links.verify(token, dutyd.clock.now())
    except AuthError as exc:
        return page("链接无效 / Invalid link", f"<p>{html.escape(str(exc))}</p>", 403)
    async with dutyd.reads() as session:
        detail = await get_incident_detail(session, incident_id=incident_id)
    state = (
        f"<p>已由 {html.escape(detail.acknowledged_by or '')} 确认 / already acknowledged.</p>"
        if detail.acknowledged_at
        else '<form method="post"><button style="font-size:1.3em;padding:.5em 1.5em">'
        "确认收悉 / Acknowledge</button></form>"
    )
    return page(
        f"事件#{incident_id}",
        f"<h1>事件 #{incident_id}：{html.escape(detail.title)}</h1>"
        f"<p>{html.escape(detail.unit)} · {detail.level.value}级 · {detail.status.value}</p>"
        f"{state}",
    )


@router.post("/ack/{token}")
async def confirm(token: str, dutyd: DutydDep) -> HTMLResponse:
    try:
        incident_id, person_id = dutyd.ack_links.verify(token, dutyd.clock.now())
    except AuthError as exc:
        return page("链接无效 / Invalid link", f"<p>{html.escape(str(exc))}</p>", 403)
    async with dutyd.sessions.begin() as session:
        row = await incidents.acknowledge(
            session,
            roster=dutyd.runtime.roster,
            plans=dutyd.runtime.plans,
            incident_id=incident_id,
            actor=person_id,
            now=dutyd.clock.now(),
        )
        who = row.acknowledged_by
    dutyd.wake()
    return page(
        "已确认 / Acknowledged",
        f"<h1>事件 #{incident_id} 已确认</h1><p>acknowledged by {html.escape(who or '')}</p>",
    )
