"""`dutyd audit`: the tamper-evident record, verified and read. Nothing here (nor anywhere
else) edits or deletes an entry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import String, cast, select

from service.app import Dutyd
from service.audit import chain
from service.audit.tables import AuditRow
from service.cli.options import period
from service.cli.runner import fail, run

app = typer.Typer(help="The audit log: verify the chain, read entries.", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain (sealing what is committed first); name the first entry that
    was edited, deleted or inserted out of order, and exit 1 if there is one."""

    async def work(dutyd: Dutyd) -> chain.Verdict:
        async with dutyd.sessions.begin() as session:
            await chain.seal(session, dutyd.clock.now())
        async with dutyd.reads() as session:
            return await chain.verify(session, dutyd.settings.effective_audit_anchor_file)

    verdict = run(work)
    if verdict.problem:
        raise fail(f"audit chain broken after {verdict.entries} good entries: {verdict.problem}", 1)
    typer.echo(f"audit chain intact: {verdict.entries} entries")


@app.command("show")
def audit_show(
    incident: Annotated[int | None, typer.Option(help="Entries about this incident.")] = None,
    person: Annotated[str | None, typer.Option(help="Entries by this person or token.")] = None,
    start: Annotated[datetime | None, typer.Option("--from", help="From (ISO 8601).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="To, exclusive.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
) -> None:
    """Entries, oldest first, as JSON lines."""
    if incident is None and person is None and start is None:
        raise fail("name --incident, --person or --from")

    async def work(dutyd: Dutyd) -> list[AuditRow]:
        query = select(AuditRow).order_by(AuditRow.id).limit(limit)
        if incident is not None:
            query = query.where(cast(AuditRow.subjects, String).contains(f'"incidents:{incident}"'))
        if person is not None:
            query = query.where(AuditRow.actor == person)
        if start is not None:
            begin, finish = period(start, end or datetime.max, dutyd.settings.timezone)
            query = query.where(AuditRow.at >= begin)
            if end is not None:
                query = query.where(AuditRow.at < finish)
        async with dutyd.reads() as session:
            return list(await session.scalars(query))

    for row in run(work):
        typer.echo(json.dumps(chain.entry_line(row), ensure_ascii=False))
