"""The Atom feed of warnings: valid Atom 1.0 with one entry per message, linking its CAP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from service.warnings.atom import ATOM_NAMESPACE, AtomEntry, render_atom
from service.warnings.models import Colour

NS = {"atom": ATOM_NAMESPACE}
CST = timezone(timedelta(hours=8))
UPDATED = datetime(2026, 7, 1, 8, 30, tzinfo=CST)
ENTRIES = [
    AtomEntry(
        id="urn:dutyd:cap:330102000000_20260701083000_1",
        title="上城区暴雨橙色预警 <更新> & 解除",
        updated=UPDATED,
        summary="预计未来6小时降雨量将达50毫米以上。",
        cap_url="https://warn.example.gov.cn/cap/1.xml?lang=zh&v=2",
        language="zh-CN",
        colour=Colour.orange,
    ),
    AtomEntry(
        id="urn:dutyd:cap:330102000000_20260701083000_1:en",
        title="Orange rainstorm warning",
        updated=UPDATED.astimezone(UTC),
        summary="More than 50 mm of rain expected.",
        cap_url="https://warn.example.gov.cn/cap/1.xml?lang=en",
        language="en-US",
        colour=Colour.orange,
    ),
]


def _feed() -> etree._Element:
    xml = render_atom(
        "urn:dutyd:feed:330102",
        "上城区预警信息",
        "https://warn.example.gov.cn/feed.atom",
        UPDATED,
        ENTRIES,
    )
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(xml)


def test_feed_has_the_required_atom_elements() -> None:
    """id, title, updated, an author and a self link: what RFC 4287 asks of a feed."""
    feed = _feed()
    assert feed.tag == f"{{{ATOM_NAMESPACE}}}feed"
    assert feed.findtext("atom:id", namespaces=NS) == "urn:dutyd:feed:330102"
    assert feed.findtext("atom:updated", namespaces=NS) == "2026-07-01T08:30:00+08:00"
    assert feed.findtext("atom:author/atom:name", namespaces=NS) == "上城区预警信息"
    [self_link] = feed.findall("atom:link[@rel='self']", NS)
    assert self_link.get("href") == "https://warn.example.gov.cn/feed.atom"


def test_entries_link_to_their_cap_documents() -> None:
    """Each entry keeps its text (escaped on the way), language, colour and CAP link."""
    entries = _feed().findall("atom:entry", NS)
    assert len(entries) == len(ENTRIES)
    for element, entry in zip(entries, ENTRIES, strict=True):
        assert element.findtext("atom:id", namespaces=NS) == entry.id
        assert element.findtext("atom:title", namespaces=NS) == entry.title
        assert element.findtext("atom:summary", namespaces=NS) == entry.summary
        assert element.get("{http://www.w3.org/XML/1998/namespace}lang") == entry.language
        assert element.find("atom:category", NS).get("term") == "orange"
        [link] = element.findall("atom:link", NS)
        assert link.attrib == {
            "rel": "alternate",
            "type": "application/cap+xml",
            "href": entry.cap_url,
        }
    assert entries[1].findtext("atom:updated", namespaces=NS) == "2026-07-01T00:30:00+00:00"
    assert entries[0].find("atom:category", NS).get("label") == "橙色"


def test_special_characters_are_escaped() -> None:
    """< and & in titles and URLs come out escaped, never as markup."""
    xml = render_atom("urn:x", "t", "https://x.example/feed", UPDATED, ENTRIES[:1])
    assert b"&lt;\xe6\x9b\xb4\xe6\x96\xb0&gt; &amp;" in xml
    assert b"?lang=zh&amp;v=2" in xml
