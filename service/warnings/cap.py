"""CAP 1.2 out: a CapAlert as the XML receivers take, its check against the OASIS schema,
and the GB/T 35965.1 style identifier a message is known by.

CAP's rules that the schema alone does not spell out, and that this module keeps:
- every time carries its own offset, to the second; UTC is written `-00:00`, never `Z`
  (the schema's dateTime pattern has no room for `Z`);
- identifiers and senders carry no spaces, commas, `<` or `&`, because `references`
  lists them as space-separated `sender,identifier,sent` triples.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from lxml import etree

from service.errors import DutydError
from service.warnings.models import Area, CapAlert, CapInfo, CapReference

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
# The geocode valueName China's receivers read the GB/T 2260 division code under.
GEOCODE_VALUE_NAME = "GB/T 2260"
CHINA_STANDARD_TIME = ZoneInfo("Asia/Shanghai")

_SCHEMA_RESOURCE = ("schema", "CAP-v1.2.xsd")
# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# CAP 1.2 (3.2.1): identifier and sender "MUST NOT include spaces, commas or
# restricted characters (< and &)".
_NOT_IN_CAP_TOKEN = re.compile(r"[\s,<&]")


class CapInvalid(DutydError):
    """Raised by validate_cap (and so by cap_parse.parse_cap) when a document is not
    well-formed or breaks the CAP 1.2 schema; `problems` holds (line, schema message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        self.line, self.reason = problems[0]
        super().__init__(
            "CAP document is not valid: "
            + "; ".join(f"line {line}: {message}" for line, message in problems)
        )


class CapRefused(DutydError):
    """Raised by cap_parse.parse_cap and cap_sign.verify_cap when a document must not be
    taken in: too big, carries a DTD or entities, asks for what dutyd does not take, or
    its signature does not verify. `reason` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"CAP document refused: {reason}")


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never fetches, never expands entities and never loads a DTD.
    A new one per document: lxml parsers are not meant to be shared across threads."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(data: bytes) -> etree._Element:
    """The root of `data`, parsed with the hardened parser; CapInvalid if not well-formed."""
    try:
        return etree.fromstring(data, parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        raise CapInvalid([(line, exc.msg or str(exc))]) from None


@cache
def _schema() -> etree.XMLSchema:
    # The schema ships inside the package so an installed dutyd validates offline.
    resource = files("service.warnings").joinpath(*_SCHEMA_RESOURCE)
    return etree.XMLSchema(etree.fromstring(resource.read_bytes(), parser=hardened_parser()))


def validate_tree(root: etree._Element) -> None:
    """Raise CapInvalid naming each line that breaks the CAP 1.2 schema."""
    try:
        # assertValid, not validate: its error log belongs to this call, not to the
        # cached schema object another thread may be using.
        _schema().assertValid(root)
    except etree.DocumentInvalid as exc:
        problems = [(error.line, error.message) for error in exc.error_log]
        raise CapInvalid(problems or [(0, str(exc))]) from None


def validate_cap(xml: bytes) -> None:
    """Raise CapInvalid unless `xml` is well-formed CAP 1.2 that the OASIS schema accepts."""
    validate_tree(parse_xml(xml))


def cap_time(moment: datetime) -> str:
    """`moment` as CAP writes times: seconds precision, in its own offset, UTC as -00:00."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"CAP times need a UTC offset; {moment.isoformat()} has none")
    if offset % timedelta(minutes=1):
        # Historic local-mean-time offsets have seconds, which CAP cannot write.
        moment, offset = moment.astimezone(UTC), timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes <= 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        f"{sign}{hours:02d}:{minutes:02d}"
    )


def xml_safe(text: str) -> str:
    """`text` without the control characters XML cannot carry (typed or pasted by people)."""
    return _NOT_XML.sub("", text)


def _cap_token(value: str, what: str) -> str:
    if not value or _NOT_IN_CAP_TOKEN.search(value):
        raise ValueError(f"CAP {what} {value!r} must be non-empty without spaces, commas, < or &")
    return value


def _decimal(value: float) -> str:
    # repr is the shortest text that reads back as the same float; Decimal keeps it out
    # of exponent notation (1e-05), which CAP's "lat,lon" text does not allow.
    return format(Decimal(repr(float(value))), "f")


def _child(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NAMESPACE}}}{name}")
    if text is not None:
        element.text = xml_safe(text)
    return element


def _pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
    holder = _child(parent, name)
    _child(holder, "valueName", value_name)
    _child(holder, "value", value)


def _reference(reference: CapReference) -> str:
    sender = _cap_token(reference.sender, "reference sender")
    identifier = _cap_token(reference.identifier, "reference identifier")
    return f"{sender},{identifier},{cap_time(reference.sent)}"


def _render_area(parent: etree._Element, area: Area) -> None:
    element = _child(parent, "area")
    _child(element, "areaDesc", area.description or " ".join(area.codes))
    for polygon in area.polygons:
        pairs = " ".join(f"{_decimal(p.lat)},{_decimal(p.lon)}" for p in polygon.points)
        _child(element, "polygon", pairs)
    for circle in area.circles:
        centre = f"{_decimal(circle.centre.lat)},{_decimal(circle.centre.lon)}"
        _child(element, "circle", f"{centre} {_decimal(circle.radius_km)}")
    for code in area.codes:
        _pair(element, "geocode", GEOCODE_VALUE_NAME, code)


def _render_info(parent: etree._Element, info: CapInfo) -> None:
    element = _child(parent, "info")
    _child(element, "language", info.language)
    # CapInfo holds one string; several categories travel space-separated in it.
    for category in info.category.split() or [info.category]:
        _child(element, "category", category)
    _child(element, "event", info.event)
    _child(element, "urgency", info.urgency)
    _child(element, "severity", info.severity)
    _child(element, "certainty", info.certainty)
    for name, moment in (
        ("effective", info.effective),
        ("onset", info.onset),
        ("expires", info.expires),
    ):
        if moment is not None:
            _child(element, name, cap_time(moment))
    for name, text in (
        ("senderName", info.sender_name),
        ("headline", info.headline),
        ("description", info.description),
        ("instruction", info.instruction),
        ("web", info.web),
    ):
        if text:
            _child(element, name, text)
    for value_name, value in info.parameters:
        _pair(element, "parameter", value_name, value)
    for area in info.areas:
        _render_area(element, area)


def render_cap(alert: CapAlert) -> bytes:
    """`alert` as a CAP 1.2 document (UTF-8, with XML declaration), elements in the
    schema's order. Raises ValueError for a time without offset or a malformed token."""
    root = etree.Element(f"{{{CAP_NAMESPACE}}}alert", nsmap={None: CAP_NAMESPACE})
    _child(root, "identifier", _cap_token(alert.identifier, "identifier"))
    _child(root, "sender", _cap_token(alert.sender, "sender"))
    _child(root, "sent", cap_time(alert.sent))
    _child(root, "status", alert.status.value)
    _child(root, "msgType", alert.msg_type.value)
    _child(root, "scope", alert.scope)
    if alert.note:
        _child(root, "note", alert.note)
    if alert.references:
        _child(root, "references", " ".join(_reference(r) for r in alert.references))
    if alert.incidents:
        for incident in alert.incidents:
            if not incident or re.search(r"\s", incident):
                raise ValueError(f"CAP incident {incident!r} must be non-empty without spaces")
        _child(root, "incidents", " ".join(alert.incidents))
    for info in alert.infos:
        _render_info(root, info)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def identifier_for(area_code: str, sender_code: str, sent: datetime, sequence: int) -> str:
    """A GB/T 35965.1 style identifier: area code and sender code, the sent time as
    YYYYMMDDhhmmss in China Standard Time, and the sequence number, e.g.
    `330102000000_20260701083000_1` for area 330102, sender 000000, sequence 1."""
    if not re.fullmatch(r"\d{6}", area_code) or area_code.startswith("00"):
        raise ValueError(f"area code {area_code!r} must be a six-digit GB/T 2260 division code")
    if not re.fullmatch(r"[A-Za-z0-9]+", sender_code):
        raise ValueError(f"sender code {sender_code!r} must be letters and digits only")
    if sent.utcoffset() is None:
        raise ValueError(f"sent {sent.isoformat()} needs a UTC offset")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise ValueError(f"sequence {sequence!r} must be a whole number from 1")
    wall_time = sent.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d%H%M%S")
    return _cap_token(f"{area_code}{sender_code}_{wall_time}_{sequence}", "identifier")
