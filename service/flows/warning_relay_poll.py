"""Relay from upstream by polling: each source's Atom feed is read, each entry's CAP link
followed (to the feed's own host, or one the source lists), and what is new taken in
(`flows.warning_relay`), oldest first, one transaction each.

The daemon calls `RelayPoller(dutyd).poll_due` every few seconds; it reads a source's
feed when its `poll_seconds` have passed. `poll_all` reads every feed at once.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx
import structlog
from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import __version__
from service.clock import Clock
from service.errors import DutydError, Forbidden
from service.flows.warning_relay import POLL, RelayOutcome, ingest_alert, read_upstream
from service.flows.warnings import WarningDesk, run_step
from service.roster.roster import Roster
from service.warnings.atom import ATOM_NAMESPACE, CAP_MEDIA_TYPE
from service.warnings.cap import CapInvalid, CapRefused
from service.warnings.cap_parse import MAX_CAP_BYTES, parse_untrusted
from service.warnings.gate import WarningGate
from service.warnings.models import CapAlert
from service.warnings.relay_rules import RelaySource
from service.warnings.relay_tables import RelayedWarningRow
from service.warnings.workflow import WarningRules

log = structlog.get_logger(__name__)

_ENTRY = f"{{{ATOM_NAMESPACE}}}entry"
_LINK = f"{{{ATOM_NAMESPACE}}}link"


class _InForce(Protocol):
    @property
    def roster(self) -> Roster: ...


class RelayHost(Protocol):
    """What polling needs of the daemon (service.app.Dutyd has all of it)."""

    sessions: async_sessionmaker[AsyncSession]
    warning_rules: WarningRules
    clock: Clock
    warning_gate: WarningGate

    @property
    def runtime(self) -> _InForce: ...

    def wake(self, at: datetime | None = None) -> None: ...


def http_client() -> httpx.AsyncClient:
    # Redirects are not followed: a link leads where it says, or nowhere.
    return httpx.AsyncClient(
        follow_redirects=False, headers={"user-agent": f"dutyd/{__version__} (CAP relay)"}
    )


async def fetch(client: httpx.AsyncClient, url: str, *, wait_seconds: float) -> bytes:
    """The body at `url`; CapRefused past MAX_CAP_BYTES (read no further), HTTPError else."""
    async with client.stream("GET", url, timeout=wait_seconds) as response:
        response.raise_for_status()
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_CAP_BYTES:
                raise CapRefused(f"{url} is over the {MAX_CAP_BYTES} byte limit")
            chunks.append(chunk)
    return b"".join(chunks)


def _cap_href(entry: etree._Element) -> str | None:
    """The entry's CAP link: typed application/cap+xml, else its alternate, else the first."""
    links = entry.findall(_LINK)
    typed = [link for link in links if link.get("type") == CAP_MEDIA_TYPE]
    alternate = [link for link in links if link.get("rel", "alternate") == "alternate"]
    chosen = (typed or alternate or links or [None])[0]
    return chosen.get("href") if chosen is not None else None


def feed_links(data: bytes, source: RelaySource) -> list[str]:
    """The CAP links of an Atom feed, absolute, in feed order; links to another host than
    the feed's (or the source's `cap_hosts`) are left out and logged."""
    assert source.feed_url is not None
    root = parse_untrusted(data)  # no DTD, no entity, no more than 1 MB
    if root.tag != f"{{{ATOM_NAMESPACE}}}feed":
        raise CapInvalid([(root.sourceline or 0, f"{root.tag} is not an Atom feed")])
    hosts = {urlsplit(source.feed_url).hostname, *source.cap_hosts}
    links: list[str] = []
    for entry in root.iterfind(_ENTRY):
        href = _cap_href(entry)
        if not href:
            continue
        url = urljoin(source.feed_url, href.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in hosts:
            log.warning("relay.link_refused", source=source.name, url=url[:300])
            continue
        if url not in links:
            links.append(url)
    return links


async def take_in(
    host: RelayHost, source: RelaySource, alert: CapAlert, *, via: str, url: str | None = None
) -> RelayOutcome:
    """One upstream message in one step (the warning gate held), then the engine woken."""

    async def work(session: AsyncSession) -> RelayOutcome:
        desk = WarningDesk(host.warning_rules, host.runtime.roster, host.clock.now())
        return await ingest_alert(session, desk, alert, source=source, via=via, url=url)

    outcome = await run_step(host.sessions, host.warning_gate.lock, work)
    host.wake()
    return outcome


async def poll_source(
    host: RelayHost,
    source: RelaySource,
    *,
    client: httpx.AsyncClient,
    skip: set[str] | None = None,
) -> list[RelayOutcome]:
    """Read the source's feed and take in every entry not read before. `skip` holds links
    to leave alone (refused documents, repeats), kept up to date here across polls."""
    if source.feed_url is None:
        return []
    skip = skip if skip is not None else set()
    try:
        links = feed_links(
            await fetch(client, source.feed_url, wait_seconds=source.timeout_seconds), source
        )
    except (httpx.HTTPError, CapRefused, CapInvalid) as exc:
        log.warning("relay.feed_failed", source=source.name, url=source.feed_url, error=str(exc))
        return []
    skip.intersection_update(links)  # what left the feed is not remembered
    async with host.sessions() as session:
        read = set(
            await session.scalars(
                select(RelayedWarningRow.url).where(
                    RelayedWarningRow.source == source.name, RelayedWarningRow.url.in_(links)
                )
            )
        )
    fetched: list[tuple[CapAlert, str]] = []
    for url in links:
        if url in read or url in skip:
            continue
        try:
            data = await fetch(client, url, wait_seconds=source.timeout_seconds)
            fetched.append((read_upstream(data, source), url))
        except httpx.HTTPError as exc:  # tried again at the next poll
            log.warning("relay.fetch_failed", source=source.name, url=url, error=str(exc))
        except (CapRefused, CapInvalid, Forbidden):  # read_upstream logged why
            skip.add(url)
    outcomes = []
    # Oldest first, so that an Alert is in before the Update or Cancel of it.
    for alert, url in sorted(fetched, key=lambda pair: pair[0].sent):
        try:
            outcome = await take_in(host, source, alert, via=POLL, url=url)
        except DutydError as exc:  # e.g. a rule naming a unit without an issuing body
            log.error("relay.take_in_failed", source=source.name, url=url, error=str(exc))
            continue
        if outcome.outcome == "repeat":
            skip.add(url)  # pushed before, or listed under two links
        outcomes.append(outcome)
    return outcomes


async def poll_all(
    host: RelayHost, *, client: httpx.AsyncClient | None = None
) -> dict[str, list[RelayOutcome]]:
    """Read every source's feed now; what each one's entries became."""
    sources = [s for s in host.warning_rules.relay.sources if s.feed_url]
    if not sources:
        return {}
    own = client is None
    client = client or http_client()
    try:
        return {s.name: await poll_source(host, s, client=client) for s in sources}
    finally:
        if own:
            await client.aclose()


class RelayPoller:
    """For the daemon's scheduler: `poll_due` every TICK_SECONDS reads the feeds whose
    `poll_seconds` have passed; one failing source does not hold up the others."""

    TICK_SECONDS = 10

    def __init__(self, host: RelayHost) -> None:
        self.host = host
        self._last: dict[str, float] = {}
        self._skip: dict[str, set[str]] = {}

    async def poll_due(self) -> int:
        """Poll what is due; how many upstream messages were taken in."""
        now = time.monotonic()
        due = [
            s
            for s in self.host.warning_rules.relay.sources
            if s.feed_url and now - self._last.get(s.name, -math.inf) >= s.poll_seconds
        ]
        if not due:
            return 0
        taken = 0
        async with http_client() as client:
            for source in due:
                self._last[source.name] = now
                try:
                    outcomes = await poll_source(
                        self.host,
                        source,
                        client=client,
                        skip=self._skip.setdefault(source.name, set()),
                    )
                except Exception:
                    log.exception("relay.poll_failed", source=source.name)
                    continue
                taken += sum(o.outcome != "repeat" for o in outcomes)
        return taken
