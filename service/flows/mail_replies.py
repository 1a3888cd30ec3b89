"""A leader's instruction by replying to an escalation mail: a mail to the duty mailbox
from a person on the roster whose text begins `批示：…` (above any quoted part) becomes
an instruction, as the same reply by SMS does, on the incident its subject names
(`事件#12`, as escalation subjects say) or the newest one the leader was told of. Any
other mail stays a draft for the officer."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.catalog import Channel
from service.flows.replies import INSTRUCTION, instruction_by_reply
from service.intake import reports
from service.intake.tables import MachineReportRow
from service.roster.models import Person
from service.roster.roster import Roster
from service.store.base import MAX_ROW_ID

# Drafts looked at once are marked so, and not read again.
READ = "read: not an instruction"
SUBJECT_INCIDENT = re.compile(r"(?:事件|incident)\s*#\s*(\d{1,10})", re.IGNORECASE)
QUOTED = re.compile(r"^\s*>|^-{2,}\s*$|^(?:On .+ wrote:|.+写道[:：])\s*$")


def person_by_email(roster: Roster, sender: str) -> Person | None:
    address = parseaddr(sender)[1].strip().lower()
    if not address:
        return None
    for person in roster.people.values():
        if any(c.address.lower() == address for c in person.contacts if c.channel is Channel.email):
            return person
    return None


def reply_text(text: str) -> str:
    """What the sender wrote, without the quoted mail under it."""
    kept = []
    for line in text.splitlines():
        if QUOTED.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


async def instructions_by_mail(
    session: AsyncSession, roster: Roster, mailboxes: list[str], now: datetime, limit: int
) -> int:
    """Turn unread mail drafts that are leaders' instructions into instructions; how many
    drafts were read."""
    if not mailboxes:
        return 0
    drafts = list(
        await session.scalars(
            select(MachineReportRow)
            .where(
                MachineReportRow.source.in_(mailboxes),
                MachineReportRow.state == "draft",
                MachineReportRow.detail == "",
            )
            .order_by(MachineReportRow.id)
            .limit(limit)
        )
    )
    for row in drafts:
        person = person_by_email(roster, row.labels.get("from", ""))
        match = INSTRUCTION.match(reply_text(row.annotations.get("text", "")))
        if person is None or match is None:
            row.detail = READ
            continue
        named = SUBJECT_INCIDENT.search(row.labels.get("subject", ""))
        incident_id = int(named[1]) if named and int(named[1]) <= MAX_ROW_ID else None
        answer = await instruction_by_reply(
            session, roster, person, match, now, via="email", incident_id=incident_id
        )
        if answer.acted:
            reports.mark(row, "done", now, detail=f"instruction by {person.id}")
        else:
            row.detail = f"read: {answer.text}"
    return len(drafts)
