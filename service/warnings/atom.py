"""The Atom 1.0 feed of published warnings that CAP aggregators and the public poll: one
entry per message, each linking to its CAP document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from service.warnings.cap import xml_safe
from service.warnings.models import COLOUR_NAMES, Colour

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class AtomEntry:
    """One published CAP message as the feed lists it."""

    id: str  # an IRI that stays the same for the message, e.g. urn:oid:... or its CAP url
    title: str
    updated: datetime
    summary: str
    cap_url: str
    language: str  # zh-CN or en-US: the language of title and summary
    colour: Colour


def _atom_time(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"Atom times need a UTC offset; {moment.isoformat()} has none")
    return moment.isoformat(timespec="seconds")


def _child(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NAMESPACE}}}{name}")
    if text is not None:
        element.text = xml_safe(text)
    return element


def _link(parent: etree._Element, rel: str, media_type: str, href: str) -> None:
    _child(parent, "link").attrib.update({"rel": rel, "type": media_type, "href": xml_safe(href)})


def _render_entry(feed: etree._Element, entry: AtomEntry) -> None:
    element = _child(feed, "entry")
    element.set(_XML_LANG, entry.language)
    _child(element, "id", entry.id)
    _child(element, "title", entry.title).set("type", "text")
    _child(element, "updated", _atom_time(entry.updated))
    _child(element, "summary", entry.summary).set("type", "text")
    # The colour as a category, so a reader can filter red and orange warnings without
    # fetching each CAP document.
    names = COLOUR_NAMES[Colour(entry.colour)]
    label = names["zh"] if entry.language.startswith("zh") else names["en"]
    _child(element, "category").attrib.update({"term": Colour(entry.colour).value, "label": label})
    _link(element, "alternate", CAP_MEDIA_TYPE, entry.cap_url)


def render_atom(
    feed_id: str,
    title: str,
    self_url: str,
    updated: datetime,
    entries: list[AtomEntry],
    *,
    author: str = "",
) -> bytes:
    """The Atom 1.0 feed (UTF-8, with XML declaration) of `entries`, in the order given.
    `author` names the issuing body; Atom requires one, so the feed's title stands in."""
    feed = etree.Element(f"{{{ATOM_NAMESPACE}}}feed", nsmap={None: ATOM_NAMESPACE})
    _child(feed, "id", feed_id)
    _child(feed, "title", title).set("type", "text")
    _child(feed, "updated", _atom_time(updated))
    _child(_child(feed, "author"), "name", author or title)
    _link(feed, "self", "application/atom+xml", self_url)
    for entry in entries:
        _render_entry(feed, entry)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
