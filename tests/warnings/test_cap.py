"""CAP 1.2 out and in: rendering, the schema check, identifiers, refusing unsafe input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from service.warnings.cap import (
    CAP_NAMESPACE,
    GEOCODE_VALUE_NAME,
    CapInvalid,
    CapRefused,
    identifier_for,
    parse_xml,
    render_cap,
    validate_cap,
)
from service.warnings.cap_parse import MAX_CAP_BYTES, parse_cap
from service.warnings.models import (
    Area,
    CapAlert,
    CapInfo,
    CapReference,
    CapStatus,
    Circle,
    MsgType,
    Point,
    Polygon,
)

CST = timezone(timedelta(hours=8))
SENT = datetime(2026, 7, 1, 8, 30, tzinfo=CST)
SENDER = "330102000000"
NS = {"cap": CAP_NAMESPACE}

SQUARE = Polygon(
    points=[
        Point(lat=30.25, lon=120.125),
        Point(lat=30.3, lon=120.125),
        Point(lat=30.3, lon=120.2),
        Point(lat=30.25, lon=120.125),
    ]
)
AREAS = [
    Area(description="上城区", codes=["330102", "330102001"]),
    Area(description="西湖水域", polygons=[SQUARE]),
    Area(
        description="钱塘江口", circles=[Circle(centre=Point(lat=30.3, lon=120.8), radius_km=12.5)]
    ),
]


def _infos(severity: str = "Severe") -> list[CapInfo]:
    common = {
        "category": "Met",
        "urgency": "Expected",
        "severity": severity,
        "certainty": "Likely",
        "effective": SENT,
        "onset": SENT + timedelta(hours=1),
        "expires": SENT + timedelta(hours=12),
        "web": "https://warn.example.gov.cn/cap/1.xml",
        "areas": AREAS,
    }
    return [
        CapInfo(
            language="zh-CN",
            event="暴雨",
            sender_name="杭州市上城区应急管理局",
            headline="上城区暴雨橙色预警",
            description="预计未来6小时降雨量将达50毫米以上 & 局部<100毫米>。",
            instruction="请避免前往低洼地带。",
            parameters=[("colour", "orange"), ("level", "II")],
            **common,
        ),
        CapInfo(
            language="en-US",
            event="rainstorm",
            sender_name="Shangcheng District Emergency Management Bureau",
            headline="Orange rainstorm warning for Shangcheng",
            description="More than 50 mm of rain expected in the next 6 hours.",
            instruction="Stay away from low-lying areas.",
            parameters=[("colour", "orange"), ("level", "II")],
            **common,
        ),
    ]


FIRST = CapAlert(
    identifier=identifier_for("330102", "000000", SENT, 1),
    sender=SENDER,
    sent=SENT,
    status=CapStatus.Actual,
    msg_type=MsgType.Alert,
    note="首次发布",
    incidents=["INC-2026-0042", "INC-2026-0043"],
    infos=_infos(),
)
FIRST_REF = CapReference(sender=SENDER, identifier=FIRST.identifier, sent=FIRST.sent)
UPDATE = CapAlert(
    identifier=identifier_for("330102", "000000", SENT + timedelta(hours=2), 2),
    sender=SENDER,
    sent=(SENT + timedelta(hours=2)).astimezone(UTC),
    status=CapStatus.Actual,
    msg_type=MsgType.Update,
    references=[FIRST_REF],
    incidents=["INC-2026-0042"],
    infos=_infos("Extreme"),
)
CANCEL = CapAlert(
    identifier=identifier_for("330102", "000000", SENT + timedelta(hours=5), 3),
    sender=SENDER,
    sent=SENT + timedelta(hours=5),
    status=CapStatus.Exercise,
    msg_type=MsgType.Cancel,
    references=[
        FIRST_REF,
        CapReference(sender=SENDER, identifier=UPDATE.identifier, sent=UPDATE.sent),
    ],
    infos=_infos(),
)
MESSAGES = {"alert": FIRST, "update": UPDATE, "cancel": CANCEL}


def _root(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


@pytest.mark.parametrize("name", MESSAGES)
def test_rendered_messages_validate_against_the_schema(name: str) -> None:
    """Alert, Update and Cancel, with two languages, areas and parameters, pass the XSD."""
    xml = render_cap(MESSAGES[name])
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    validate_cap(xml)
    root = _root(xml)
    assert root.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert [i.findtext("cap:language", namespaces=NS) for i in root.findall("cap:info", NS)] == [
        "zh-CN",
        "en-US",
    ]


@pytest.mark.parametrize("name", MESSAGES)
def test_round_trip_gives_equal_values(name: str) -> None:
    """What render_cap writes, parse_cap reads back as the same CapAlert."""
    assert parse_cap(render_cap(MESSAGES[name])) == MESSAGES[name]


def test_elements_follow_the_schema_order_and_cap_conventions() -> None:
    """Times keep their own offset, UTC is -00:00, references are triples, areas as CAP."""
    root = _root(render_cap(UPDATE))
    names = [etree.QName(child).localname for child in root]
    assert names == [
        "identifier",
        *("sender", "sent", "status", "msgType", "scope"),
        *("references", "incidents", "info", "info"),
    ]
    assert root.findtext("cap:sent", namespaces=NS) == "2026-07-01T02:30:00-00:00"
    assert root.findtext("cap:references", namespaces=NS) == (
        f"{SENDER},330102000000_20260701083000_1,2026-07-01T08:30:00+08:00"
    )
    info = root.find("cap:info", NS)
    assert info.findtext("cap:effective", namespaces=NS) == "2026-07-01T08:30:00+08:00"
    parameter = info.find("cap:parameter", NS)
    assert parameter.findtext("cap:valueName", namespaces=NS) == "colour"
    assert parameter.findtext("cap:value", namespaces=NS) == "orange"
    coded, shaped, round_ = info.findall("cap:area", NS)
    geocodes = [
        (g.findtext("cap:valueName", namespaces=NS), g.findtext("cap:value", namespaces=NS))
        for g in coded.findall("cap:geocode", NS)
    ]
    assert geocodes == [(GEOCODE_VALUE_NAME, "330102"), (GEOCODE_VALUE_NAME, "330102001")]
    assert coded.findtext("cap:areaDesc", namespaces=NS) == "上城区"
    assert shaped.findtext("cap:polygon", namespaces=NS) == (
        "30.25,120.125 30.3,120.125 30.3,120.2 30.25,120.125"
    )
    assert round_.findtext("cap:circle", namespaces=NS) == "30.3,120.8 12.5"


def test_area_without_description_is_described_by_its_codes() -> None:
    """An empty areaDesc would say nothing; the codes stand in for it."""
    info = _infos()[0].model_copy(update={"areas": [Area(codes=["330102", "330105"])]})
    xml = render_cap(FIRST.model_copy(update={"infos": [info]}))
    validate_cap(xml)
    assert _root(xml).findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == "330102 330105"


def test_render_refuses_naive_times_and_commas_in_identifiers() -> None:
    """CAP times need an offset; a comma in an identifier would break references."""
    with pytest.raises(ValueError, match="offset"):
        render_cap(FIRST.model_copy(update={"sent": datetime(2026, 7, 1, 8, 30)}))
    with pytest.raises(ValueError, match="commas"):
        render_cap(FIRST.model_copy(update={"identifier": "a,b"}))


def _broken(old: bytes, new: bytes) -> bytes:
    xml = render_cap(FIRST)
    assert old in xml
    return xml.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        (b"<sender>330102000000</sender>", b"", 5, "sent'.*Expected is .*sender"),
        (
            b"<status>Actual</status>\n  <msgType>Alert</msgType>",
            b"<msgType>Alert</msgType>\n  <status>Actual</status>",
            6,
            "msgType'.*not expected.*status",
        ),
        (b"2026-07-01T08:30:00+08:00</sent>", b"2026-07-01T00:30:00Z</sent>", 5, "00Z.*pattern"),
    ],
    ids=["missing-sender", "wrong-order", "z-time"],
)
def test_invalid_document_is_refused_naming_the_line(
    old: bytes, new: bytes, line: int, expected: str
) -> None:
    """Missing sender, elements out of order and a Z time all break the schema, by line."""
    with pytest.raises(CapInvalid, match=f"line {line}: .*{expected}") as caught:
        validate_cap(_broken(old, new))
    assert caught.value.line == line


def test_malformed_xml_is_invalid_with_its_line() -> None:
    """A document that is not even XML is refused, naming where it breaks."""
    with pytest.raises(CapInvalid, match="line 3"):
        validate_cap(b"<?xml version='1.0'?>\n<alert>\n</alrt>")


def test_identifier_format() -> None:
    """Area code, sender code, China Standard Time to the second, sequence."""
    sent_utc = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    assert identifier_for("330102", "000000", sent_utc, 1) == "330102000000_20260701083000_1"
    assert identifier_for("110000", "QXJ01", SENT, 12) == "110000QXJ01_20260701083000_12"


@pytest.mark.parametrize(
    ("area", "sender", "sent", "sequence"),
    [
        ("33010", "000000", SENT, 1),
        ("001234", "000000", SENT, 1),
        ("330102", "00 00", SENT, 1),
        ("330102", "00,00", SENT, 1),
        ("330102", "a<b&c", SENT, 1),
        ("330102", "", SENT, 1),
        ("330102", "000000", datetime(2026, 7, 1), 1),
        ("330102", "000000", SENT, 0),
    ],
)
def test_identifier_refuses_what_cap_cannot_carry(
    area: str, sender: str, sent: datetime, sequence: int
) -> None:
    """Wrong area codes, spaces, commas, < and &, naive times and sequence 0 are refused."""
    with pytest.raises(ValueError):
        identifier_for(area, sender, sent, sequence)


def test_described_only_area_is_kept() -> None:
    """Another producer's area with neither code, polygon nor circle keeps its words."""
    xml = _broken(
        b"<areaDesc>\xe8\xa5\xbf\xe6\xb9\x96\xe6\xb0\xb4\xe5\x9f\x9f</areaDesc>",
        b"<areaDesc>whole province</areaDesc>",
    )
    xml = xml.replace(xml[xml.index(b"<polygon>") : xml.index(b"</polygon>") + 10], b"", 1)
    area = parse_cap(xml).infos[0].areas[1]
    assert (area.description, area.codes, area.polygons, area.circles) == (
        "whole province",
        [],
        [],
        [],
    )


def test_foreign_geocodes_are_skipped_and_bad_gbt_codes_refused() -> None:
    """Any valueName with a GB/T 2260 shaped value is read; one labelled GB/T 2260 must be."""
    foreign = _broken(b"<valueName>GB/T 2260</valueName>", b"<valueName>SAME</valueName>")
    assert parse_cap(foreign).infos[0].areas[0].codes == ["330102", "330102001"]
    ugc = _broken(b"<value>330102</value>", b"<value>CAZ041</value>")
    ugc = ugc.replace(b"<valueName>GB/T 2260</valueName>", b"<valueName>UGC</valueName>", 1)
    assert parse_cap(ugc).infos[0].areas[0].codes == ["330102001"]
    with pytest.raises(CapInvalid, match="not a GB/T 2260 code"):
        parse_cap(_broken(b"<value>330102</value>", b"<value>33010</value>"))


def test_open_polygon_is_invalid_at_its_line() -> None:
    """A polygon the schema lets through but whose ends do not meet is refused, by line."""
    xml = _broken(b" 30.25,120.125</polygon>", b" 30.26,120.125</polygon>")
    line = xml[: xml.index(b"<polygon>")].count(b"\n") + 1
    with pytest.raises(CapInvalid, match=f"line {line}: .*first point"):
        parse_cap(xml)


def test_status_dutyd_does_not_take_is_refused() -> None:
    """A Draft is valid CAP but not a message dutyd takes in."""
    with pytest.raises(CapRefused, match="Draft"):
        parse_cap(_broken(b"<status>Actual</status>", b"<status>Draft</status>"))


def _with_doctype(doctype: str, body_text: str) -> bytes:
    xml = render_cap(FIRST).decode().replace("<note>首次发布</note>", f"<note>{body_text}</note>")
    declaration, rest = xml.split("\n", 1)
    return f"{declaration}\n{doctype}\n{rest}".encode()


def test_xxe_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    """An external entity pointing at a local file is refused; the file's text goes nowhere."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-MARKER")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        xml = _with_doctype(f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{target}">]>', "&xxe;")
        with pytest.raises(CapRefused, match="DTDForbidden") as caught:
            parse_cap(xml)
        assert "SECRET-MARKER" not in str(caught.value)
        assert "root:" not in str(caught.value)


def test_billion_laughs_is_refused_before_expanding() -> None:
    """Nested entities are refused at the DTD, at once, with nothing expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    xml = _with_doctype(f"<!DOCTYPE alert [{''.join(entities)}]>", "&lol9;")
    started = time.monotonic()
    with pytest.raises(CapRefused, match="DTD") as caught:
        parse_cap(xml)
    assert time.monotonic() - started < 1
    assert "lollol" not in str(caught.value)


def test_external_dtd_and_bare_doctype_are_refused() -> None:
    """A DOCTYPE of any kind is refused, whether it names an external DTD or nothing."""
    external = _with_doctype('<!DOCTYPE alert SYSTEM "http://attacker.example/cap.dtd">', "x")
    with pytest.raises(CapRefused, match="DTD"):
        parse_cap(external)
    with pytest.raises(CapRefused, match="DTD"):
        parse_cap(_with_doctype("<!DOCTYPE alert>", "x"))


def test_hardened_parser_alone_expands_no_entity() -> None:
    """Had the defusedxml check been skipped, lxml would still not have expanded anything."""
    xml = _with_doctype('<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;")
    note = parse_xml(xml).find("cap:note", NS)
    assert "root:" not in etree.tostring(note).decode()


def test_oversize_document_is_refused_before_parsing() -> None:
    """More than 1 MB is refused on its size, even when it is not XML at all."""
    with pytest.raises(CapRefused, match="limit"):
        parse_cap(b"<" * (MAX_CAP_BYTES + 1))
    padded = _broken(b"<note>", b"<note>" + b"x" * MAX_CAP_BYTES)
    with pytest.raises(CapRefused, match="limit"):
        parse_cap(padded)


def test_time_the_schema_allows_but_python_cannot_read_is_invalid() -> None:
    """xs:dateTime takes 24:00:00; it is refused as CapInvalid at its line, not a crash."""
    xml = _broken(b"2026-07-01T08:30:00+08:00</sent>", b"2026-07-01T24:00:00+08:00</sent>")
    with pytest.raises(CapInvalid, match=r"line 5: .*24:00:00"):
        parse_cap(xml)
