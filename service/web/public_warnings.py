"""What the public and downstream receivers read without a login: the Atom feeds of
warnings in force (all, and one per language), each published message's CAP, and a page of
the warnings in force for an area."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from service.errors import NotFound
from service.warnings import service
from service.warnings.areas import AreaMatcher
from service.warnings.atom import AtomEntry, render_atom
from service.warnings.models import Area, Stage
from service.web.context import DutydDep
from service.web.render import page

router = APIRouter(tags=["public warnings"])
LANGUAGES = ("zh-CN", "en-US")
CAP_TYPE = "application/cap+xml"


def _base(request: Request, configured: str) -> str:
    return (configured or str(request.base_url)).rstrip("/")


async def _entries(dutyd: DutydDep, base: str, language: str | None) -> list[AtomEntry]:
    async with dutyd.reads() as session:
        rows = await service.live_warnings(session, dutyd.clock.now())
    entries = []
    for row in rows:
        content = service.content_of(row)
        for text in content.texts:
            if language is not None and text.language != language:
                continue
            entries.append(
                AtomEntry(
                    id=f"urn:cap:{row.identifier}:{text.language}",
                    title=text.headline,
                    updated=row.published_at or row.updated_at,
                    summary=text.description,
                    cap_url=f"{base}/warnings/{row.id}.xml",
                    language=text.language,
                    colour=content.colour,
                )
            )
            if language is None:
                break  # the feed of all languages: one entry per warning, in Chinese
    return entries


@router.get("/warnings/feed.atom", include_in_schema=True)
async def feed(request: Request, dutyd: DutydDep) -> Response:
    """Atom feed of the warnings in force, each linking to its CAP message."""
    return await _feed(request, dutyd, None)


@router.get("/warnings/feed.{language}.atom")
async def feed_in(language: str, request: Request, dutyd: DutydDep) -> Response:
    """The feed in one language (zh-CN or en-US)."""
    if language not in LANGUAGES:
        raise NotFound("feed language", language)
    return await _feed(request, dutyd, language)


async def _feed(request: Request, dutyd: DutydDep, language: str | None) -> Response:
    base = _base(request, dutyd.warning_rules.public_url or dutyd.settings.public_base_url)
    entries = await _entries(dutyd, base, language)
    suffix = f".{language}" if language else ""
    body = render_atom(
        feed_id=f"{base}/warnings/feed{suffix}.atom",
        title="预警信息 / Warnings in force",
        self_url=f"{base}/warnings/feed{suffix}.atom",
        updated=max((e.updated for e in entries), default=dutyd.clock.now()),
        entries=entries,
        author=dutyd.warning_rules.sender,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/warnings/{warning_id}.xml")
async def cap_message(warning_id: int, dutyd: DutydDep) -> Response:
    """The CAP 1.2 message of a published warning, Update or Cancel."""
    async with dutyd.reads() as session:
        row = await service.get_warning(session, warning_id)
    if row.cap_xml is None:
        raise NotFound("published warning", warning_id)
    return Response(row.cap_xml.encode("utf-8"), media_type=CAP_TYPE)


@router.get("/warnings", response_class=HTMLResponse)
async def public_page(
    dutyd: DutydDep,
    area: Annotated[
        str | None, Query(pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="A division code.")
    ] = None,
    lang: Annotated[str, Query(pattern=r"^(zh|en)$")] = "zh",
) -> HTMLResponse:
    """The warnings in force, for everyone; with `area`, those that reach that place."""
    async with dutyd.reads() as session:
        rows = await service.live_warnings(session, dutyd.clock.now())
    shown = []
    for row in rows:
        content = service.content_of(row)
        if area is not None and not AreaMatcher(content.areas).reaches(Area(codes=[area])):
            continue
        shown.append((row, content, content.text("zh-CN" if lang == "zh" else "en-US")))
    return page(
        "public_warnings.html.j2",
        lang,
        warnings=shown,
        area=area,
        published=Stage.published,
        zone=ZoneInfo(dutyd.settings.timezone),
    )
