"""CAP 1.2 in: an untrusted document from another producer, checked and read into a CapAlert.

The order matters. Size first (nothing is parsed past 1 MB); then defusedxml's check,
which refuses any DTD or entity declaration before a single entity can be expanded (XXE,
billion laughs, external DTDs); only then lxml with a hardened parser, the schema, and
the mapping into dutyd's models.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from lxml import etree
from pydantic import TypeAdapter, ValidationError

from service.warnings.cap import (
    CAP_NAMESPACE,
    GEOCODE_VALUE_NAME,
    CapInvalid,
    CapRefused,
    parse_xml,
    validate_tree,
)
from service.warnings.models import (
    Area,
    AreaCode,
    CapAlert,
    CapInfo,
    CapReference,
    CapStatus,
    Circle,
    MsgType,
    Point,
    Polygon,
)

__all__ = ["MAX_CAP_BYTES", "CapInvalid", "CapRefused", "parse_cap", "parse_untrusted"]

MAX_CAP_BYTES = 1024 * 1024
_AREA_CODE = TypeAdapter(AreaCode)
_NS = {"cap": CAP_NAMESPACE}


def parse_untrusted(data: bytes) -> etree._Element:
    """The root of an untrusted XML document, or CapRefused (too big, DTD, entities) or
    CapInvalid (not well-formed). Nothing is fetched or expanded on the way."""
    if not isinstance(data, bytes):
        raise TypeError(f"a CAP document is bytes, not {type(data).__name__}")
    if len(data) > MAX_CAP_BYTES:
        raise CapRefused(f"{len(data)} bytes is over the {MAX_CAP_BYTES} byte limit")
    try:
        defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden: raised as the
        # declaration is read, before anything it declares is used.
        raise CapRefused(f"{type(exc).__name__}: DTDs and entities are not accepted") from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 0
        raise CapInvalid([(line, str(exc))]) from None
    root = parse_xml(data)
    if root.getroottree().docinfo.doctype:
        # defusedxml already refuses these; a second lock costs nothing.
        raise CapRefused("a DOCTYPE is not accepted")
    return root


def parse_cap(data: bytes) -> CapAlert:
    """An untrusted CAP 1.2 document as a CapAlert. Raises CapRefused for documents dutyd
    will not read (too big, DTD or entities, a status or msgType it does not take) and
    CapInvalid for documents that break the schema or hold values that do not fit."""
    root = parse_untrusted(data)
    validate_tree(root)
    try:
        return _alert(root)
    except ValidationError as exc:
        raise _not_fitting(root, exc) from None


def _find(parent: etree._Element, name: str) -> etree._Element | None:
    return parent.find(f"cap:{name}", _NS)


def _text(parent: etree._Element, name: str, *, strip: bool = True) -> str:
    element = _find(parent, name)
    text = (element.text or "") if element is not None else ""
    return text.strip() if strip else text


def _words(parent: etree._Element, name: str) -> str:
    """Free text (headline, description, ...) exactly as written."""
    return _text(parent, name, strip=False)


def _time(parent: etree._Element, name: str) -> datetime | None:
    text = _text(parent, name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # xs:dateTime allows a few that Python does not, such as 24:00:00.
        element = _find(parent, name)
        raise _invalid(element if element is not None else parent, f"{text!r} is no time") from None


def _pairs(parent: etree._Element, name: str) -> list[tuple[str, str]]:
    return [(_text(p, "valueName"), _words(p, "value")) for p in parent.findall(f"cap:{name}", _NS)]


def _invalid(element: etree._Element, message: str) -> CapInvalid:
    return CapInvalid([(element.sourceline or 0, message)])


def _not_fitting(element: etree._Element, exc: ValidationError) -> CapInvalid:
    """A value the schema allows but dutyd's models do not (a polygon left open, a
    latitude of 91), as CapInvalid at the element it came from."""
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    return _invalid(element, f"{where}: {message}" if where else message)


def _references(root: etree._Element) -> list[CapReference]:
    element = _find(root, "references")
    if element is None:
        return []
    references = []
    for triple in (element.text or "").split():
        parts = triple.split(",")
        if len(parts) != 3:
            raise _invalid(element, f"reference {triple!r} is not sender,identifier,sent")
        sender, identifier, sent = parts
        try:
            moment = datetime.fromisoformat(sent)
        except ValueError:
            raise _invalid(element, f"reference {triple!r} has no valid sent time") from None
        references.append(CapReference(sender=sender, identifier=identifier, sent=moment))
    return references


def _point(element: etree._Element, text: str) -> Point:
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise _invalid(element, f"{text!r} is not a lat,lon pair") from None
    try:
        return Point(lat=lat, lon=lon)
    except ValidationError as exc:
        raise _not_fitting(element, exc) from None


def _circle(element: etree._Element) -> Circle:
    parts = (element.text or "").split()
    if len(parts) != 2:
        raise _invalid(element, f"circle {element.text!r} is not 'lat,lon radius'")
    try:
        radius = float(parts[1])
    except ValueError:
        raise _invalid(element, f"circle radius {parts[1]!r} is not a number") from None
    try:
        return Circle(centre=_point(element, parts[0]), radius_km=radius)
    except ValidationError as exc:
        raise _not_fitting(element, exc) from None


def _codes(area: etree._Element) -> list[str]:
    codes = []
    for geocode in area.findall("cap:geocode", _NS):
        value_name, value = _text(geocode, "valueName"), _text(geocode, "value")
        try:
            codes.append(_AREA_CODE.validate_python(value))
        except ValidationError:
            # Other schemes' codes (SAME, UGC, ...) are not ours to read; one that
            # claims to be GB/T 2260 and is not is a broken document.
            if value_name == GEOCODE_VALUE_NAME:
                raise _invalid(geocode, f"{value!r} is not a GB/T 2260 code") from None
    return codes


def _polygon(element: etree._Element) -> Polygon:
    try:
        return Polygon(points=[_point(element, pair) for pair in (element.text or "").split()])
    except ValidationError as exc:
        raise _not_fitting(element, exc) from None


def _area(element: etree._Element) -> Area:
    description = _words(element, "areaDesc")
    codes = _codes(element)
    polygons = [_polygon(p) for p in element.findall("cap:polygon", _NS)]
    circles = [_circle(c) for c in element.findall("cap:circle", _NS)]
    if not (codes or polygons or circles):
        # Area insists on somewhere to point at; a described-only area from another
        # producer is still worth keeping as the words it is.
        return Area.model_construct(description=description, codes=[], polygons=[], circles=[])
    try:
        return Area(description=description, codes=codes, polygons=polygons, circles=circles)
    except ValidationError as exc:
        raise _not_fitting(element, exc) from None


def _info(element: etree._Element) -> CapInfo:
    info = CapInfo(
        language=_text(element, "language") or "en-US",  # the schema's default
        category=" ".join(c.text or "" for c in element.findall("cap:category", _NS)),
        event=_text(element, "event"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        effective=_time(element, "effective"),
        onset=_time(element, "onset"),
        expires=_time(element, "expires"),
        sender_name=_words(element, "senderName"),
        headline=_words(element, "headline"),
        description=_words(element, "description"),
        instruction=_words(element, "instruction"),
        web=_text(element, "web") or None,
        parameters=_pairs(element, "parameter"),
    )
    # Assigned after validation: pydantic runs Area's "somewhere" check again on Area
    # instances passed to CapInfo, which would refuse the described-only ones.
    info.areas = [_area(a) for a in element.findall("cap:area", _NS)]
    return info


def _alert(root: etree._Element) -> CapAlert:
    status, msg_type = _text(root, "status"), _text(root, "msgType")
    if status not in CapStatus.__members__:
        raise CapRefused(f"status {status!r} is not one dutyd takes in")
    if msg_type not in MsgType.__members__:
        raise CapRefused(f"msgType {msg_type!r} is not one dutyd takes in")
    sent = _time(root, "sent")
    if sent is None:  # the schema requires it; say so rather than fail on None below
        raise _invalid(root, "alert has no sent time")
    incidents = _text(root, "incidents")
    return CapAlert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=sent,
        status=CapStatus(status),
        msg_type=MsgType(msg_type),
        scope=_text(root, "scope"),
        note=_words(root, "note"),
        references=_references(root),
        incidents=incidents.split(),
        infos=[_info(i) for i in root.findall("cap:info", _NS)],
    )
