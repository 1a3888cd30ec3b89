"""The warning form of the console: its choices (the units' areas, hazards, levels), its
values read into a WarningContent with each problem beside its field, a warning's content
back as the form's values, and the preview of what it will say: the SMS, the
cell-broadcast texts and the CAP message, rendered as publishing would render them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from service.auth.policy import Action
from service.roster.roster import Roster
from service.warnings.cap import CapInvalid, render_cap, validate_cap
from service.warnings.cap_build import cap_alert
from service.warnings.hazards import HAZARDS
from service.warnings.models import (
    AreaCode,
    CapStatus,
    Circle,
    MsgType,
    Point,
    Polygon,
    WarningContent,
    WarningText,
)
from service.warnings.sms_text import cell_broadcast_for, segments, warning_sms_for
from service.warnings.workflow import WarningRules
from service.web.context import Viewer
from service.web.forms import local_input, parse_local
from service.web.render import label

AREA = "area_"  # a checkbox per unit's area: area_<unit id>
TEXT_FIELDS = ("headline", "description", "instruction")
LANGUAGES = {"zh": "zh-CN", "en": "en-US"}
STATUSES = (CapStatus.Actual, CapStatus.Exercise, CapStatus.Test)
URGENCIES = ("Immediate", "Expected", "Future", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unknown")
VALID_FOR = timedelta(hours=24)
SPLIT = re.compile(r"[\s,，、;；]+")
_CODE = TypeAdapter(AreaCode)


class FormProblems(Exception):
    """The form does not make a warning: what is wrong, by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class AreaChoice:
    """A unit's area as the picker offers it: its place name and its GB/T 2260 code."""

    unit: str
    name: str
    code: str


def place_name(body: str) -> str:
    """青山县人民政府 → 青山县: the place an issuing body is the government of."""
    return body.removesuffix("人民政府") or body


def area_choices(rules: WarningRules, roster: Roster) -> list[AreaChoice]:
    """The roster's units with an issuing body in the warnings file, one per code."""
    seen: set[str] = set()
    found = []
    for unit_id, sender in rules.units.items():
        if unit_id in roster.units and sender.area_code not in seen:
            seen.add(sender.area_code)
            found.append(AreaChoice(unit_id, place_name(sender.zh), sender.area_code))
    return found


def draft_units(viewer: Viewer, roster: Roster, rules: WarningRules) -> list[str]:
    """The units the viewer may draft a warning for: in scope, with an issuing body."""
    return [
        u for u in roster.units if u in rules.units and viewer.may(Action.draft_warning, u, roster)
    ]


def say(key: str, language: str, **values: Any) -> str:
    return label(key, language).format(**values)


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    text = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if where else text


def _codes(text: str, language: str, errors: dict[str, str]) -> list[str]:
    codes = []
    for code in (c for c in SPLIT.split(text.strip()) if c):
        try:
            codes.append(_CODE.validate_python(code))
        except ValidationError:
            errors.setdefault("extra_codes", say("werr.code", language, code=code))
    return codes


def _point(token: str, number: int, language: str) -> Point:
    parts = token.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise ValueError(say("werr.point", language, n=number, token=token)) from None
    try:
        return Point(lat=lat, lon=lon)
    except ValidationError as exc:
        raise ValueError(f"{token}: {_message(exc)}") from None


def _polygon(text: str, language: str, errors: dict[str, str]) -> list[Polygon]:
    tokens = [t for t in re.split(r"[\s;；]+", text.strip()) if t]
    if not tokens:
        return []
    try:
        points = [_point(t, n, language) for n, t in enumerate(tokens, 1)]
        if len(set(points)) < 3:
            raise ValueError(say("werr.polygon_points", language))
        if points[0] != points[-1]:
            points.append(points[0])  # closed as CAP wants it
        return [Polygon(points=points)]
    except ValidationError as exc:
        errors["polygon"] = _message(exc)
    except ValueError as exc:
        errors["polygon"] = str(exc)
    return []


def _circle(text: str, language: str, errors: dict[str, str]) -> list[Circle]:
    parts = text.split()
    if not parts:
        return []
    try:
        if len(parts) != 2:
            raise ValueError(say("werr.circle", language))
        centre = _point(parts[0], 1, language)
        try:
            radius = float(parts[1])
        except ValueError:
            raise ValueError(say("werr.circle", language)) from None
        return [Circle(centre=centre, radius_km=radius)]
    except ValidationError as exc:
        errors["circle"] = _message(exc)
    except ValueError as exc:
        errors["circle"] = str(exc)
    return []


def _text(
    values: dict[str, Any], short: str, language: str, errors: dict[str, str]
) -> WarningText | None:
    given = {f: str(values.get(f"{short}_{f}", "")).strip() for f in TEXT_FIELDS}
    if short != "zh" and not any(given.values()):
        return None  # the English text is optional
    try:
        return WarningText(language=LANGUAGES[short], **given)
    except ValidationError as exc:
        for err in exc.errors():
            name = f"{short}_{err['loc'][0]}" if err["loc"] else f"{short}_headline"
            missing = err["type"] == "string_too_short"
            text = str(err["msg"]).removeprefix("Value error, ")
            errors.setdefault(name, say("werr.required", language) if missing else text)
        return None


def read_content(
    values: dict[str, Any], rules: WarningRules, roster: Roster, now: datetime, language: str
) -> WarningContent:
    """The form as a warning's content, or FormProblems naming each field that is wrong."""
    errors: dict[str, str] = {}
    unit = str(values.get("unit", ""))
    if unit not in rules.units or unit not in roster.units:
        errors["unit"] = say("werr.unit", language)
    chosen = [c for c in area_choices(rules, roster) if values.get(AREA + c.unit)]
    codes = [c.code for c in chosen] + _codes(str(values.get("extra_codes", "")), language, errors)
    polygons = _polygon(str(values.get("polygon", "")), language, errors)
    circles = _circle(str(values.get("circle", "")), language, errors)
    if not (codes or polygons or circles or errors.keys() & {"extra_codes", "polygon", "circle"}):
        errors["areas"] = say("werr.no_area", language)
    texts = [t for t in (_text(values, s, language, errors) for s in LANGUAGES) if t]
    zone = roster.units[unit].zone if unit in roster.units else ZoneInfo("Asia/Shanghai")
    expires: datetime | None = None
    try:
        expires = parse_local(str(values.get("expires", "")), zone, "expires")
    except ValueError as exc:
        errors["expires"] = str(exc)
    if expires is None:
        errors.setdefault("expires", say("werr.required", language))
    elif expires <= now:
        errors["expires"] = say("werr.expires_past", language)
    if values.get("hazard") not in HAZARDS:
        errors["hazard"] = say("werr.required", language)
    if errors:
        raise FormProblems(errors)
    description = str(values.get("area_desc", "")).strip() or "、".join(c.name for c in chosen)
    unique = list(dict.fromkeys(codes))
    try:
        return WarningContent.model_validate(
            {
                "hazard": values.get("hazard"),
                "level": values.get("level"),
                "status": values.get("status") or CapStatus.Actual.value,
                "urgency": values.get("urgency") or "Expected",
                "certainty": values.get("certainty") or "Likely",
                "areas": [
                    {
                        "description": description,
                        "codes": unique,
                        "polygons": polygons,
                        "circles": circles,
                    }
                ],
                "texts": texts,
                "expires": expires,
            }
        )
    except ValidationError as exc:
        found: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "_"
            found.setdefault(name, str(err["msg"]).removeprefix("Value error, "))
        raise FormProblems(found) from None


def _pairs(points: list[Point]) -> str:
    return " ".join(f"{p.lat:g},{p.lon:g}" for p in points)


def values_of(
    content: WarningContent, unit: str, rules: WarningRules, roster: Roster
) -> dict[str, str]:
    """A warning's content as the form shows it (to edit a draft, or to start an update).
    The form has one area: several are shown as one, with all their codes."""
    choices = {c.code: c for c in area_choices(rules, roster)}
    codes = list(dict.fromkeys(c for a in content.areas for c in a.codes))
    polygons = [p for a in content.areas for p in a.polygons]
    circles = [c for a in content.areas for c in a.circles]
    values: dict[str, str] = {
        "unit": unit,
        "hazard": content.hazard,
        "level": content.level.value,
        "status": content.status.value,
        "urgency": content.urgency,
        "certainty": content.certainty,
        "area_desc": "、".join(a.description for a in content.areas if a.description),
        "extra_codes": " ".join(c for c in codes if c not in choices),
        "polygon": _pairs(polygons[0].points[:-1]) if polygons else "",
        "circle": (
            f"{circles[0].centre.lat:g},{circles[0].centre.lon:g} {circles[0].radius_km:g}"
            if circles
            else ""
        ),
        "expires": local_input(content.expires, roster.unit(unit).zone),
    }
    values.update({AREA + choices[c].unit: "on" for c in codes if c in choices})
    for short, language in LANGUAGES.items():
        text = next((t for t in content.texts if t.language == language), None)
        if text is not None:
            values.update({f"{short}_{f}": getattr(text, f) for f in TEXT_FIELDS})
    return values


def blank_values(unit: str | None, roster: Roster, now: datetime) -> dict[str, str]:
    zone = roster.unit(unit).zone if unit else ZoneInfo("Asia/Shanghai")
    values = {"level": "IV", "hazard": "rainstorm", "status": CapStatus.Actual.value}
    values.update({"expires": local_input(now + VALID_FOR, zone), "unit": unit or ""})
    if unit:
        values[AREA + unit] = "on"
    return values


@dataclass
class Preview:
    """What the warning will say, rendered as its publication would render it."""

    sms: list[tuple[str, str, int]] = field(default_factory=list)  # language, text, segments
    broadcast: list[tuple[str, int, str]] = field(default_factory=list)  # language, limit, text
    cap: str = ""
    cap_problem: str = ""


def preview_of(
    content: WarningContent, rules: WarningRules, unit: str, kind: MsgType, now: datetime
) -> Preview:
    sender = rules.units[unit]
    names = {"zh-CN": sender.zh, "en-US": sender.en or sender.zh}
    shown = Preview()
    for text in content.texts:
        name = names[text.language]
        sms = warning_sms_for(
            content,
            kind=kind,
            sender_name=name,
            language=text.language,
            max_segments=rules.sms.max_segments,
        )
        shown.sms.append((text.language, sms, segments(sms)))
        for limit in (90, 360):
            broadcast = cell_broadcast_for(
                content, kind=kind, sender_name=name, language=text.language, limit=limit
            )
            shown.broadcast.append((text.language, limit, broadcast))
    alert = cap_alert(
        content,
        identifier=f"{sender.area_code}{rules.sender_code}_PREVIEW",
        sender=rules.sender,
        sender_names={"zh": sender.zh, "en": sender.en or sender.zh},
        sent=now,
        msg_type=kind,
        references=[],
        incidents=[],
    )
    xml = render_cap(alert)
    try:
        validate_cap(xml)
    except CapInvalid as exc:
        shown.cap_problem = str(exc)
    shown.cap = xml.decode("utf-8")
    return shown
