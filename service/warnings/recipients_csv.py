"""Recipients of public warnings from a CSV file, checked as a whole before anything is kept.

A file looks like this (UTF-8, a byte-order mark from Excel is fine):

    id,name,kind,language,areas,lat,lon,radius_km,polygon,sms,email,groups
    qs-001,青山镇李村村委会,village_head,zh-CN,330102001,,,,,+8613800000101,,村干部
    qs-002,Qingshan Middle School,school,en-US,,30.25,120.17,0.5,,+8613800000102,,schools

`id`, `name` and `kind` are required columns; the others may be left out of the header.
Lists (`areas`, `sms`, `email`, `groups`, `polygon`) are separated by `;`. A polygon is
"lat,lon lat,lon …" with its first point repeated as its last. A point (`lat`, `lon`)
without a radius is taken as a circle of `POINT_RADIUS_KM`."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from service.warnings.models import Area, AreaCode, Point, Polygon

MAX_LINES = 200_000
MAX_BYTES = 50 * 1024 * 1024
MAX_ITEMS = 50  # addresses or groups on one line
# A location without a radius: a phone's or a map's position, good to some metres.
POINT_RADIUS_KM = 0.01
REQUIRED_COLUMNS = ("id", "name", "kind")
OPTIONAL_COLUMNS = tuple("language areas lat lon radius_km polygon sms email groups".split())
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
LANGUAGES = ("zh-CN", "en-US")

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
E164 = re.compile(r"\+[1-9]\d{7,14}")
# A deliberately plain address check: one @, a dot-atom local part, a domain of labels
# with a top-level part of letters. It refuses typos, not every RFC 5322 curiosity.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Spreadsheets show "+86 138-0000-0101" and the like; the separators carry nothing.
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_AREA_CODE: TypeAdapter[str] = TypeAdapter(AreaCode)


class RecipientKind(StrEnum):
    village_head = "village_head"
    community_head = "community_head"
    school = "school"
    enterprise = "enterprise"
    public = "public"
    official = "official"
    other = "other"


def check_phone(text: str) -> str:
    """An E.164 number (+8613800000101), separators removed; ValueError says what is wrong."""
    number = _PHONE_SEPARATORS.sub("", text)
    if E164.fullmatch(number):
        return number
    if re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", number):
        raise ValueError(
            f"{text!r} was turned into a number by a spreadsheet; format the column as text"
        )
    if number.isdigit():
        raise ValueError(f"{text!r} needs its country code after a +, e.g. +8613800000101")
    raise ValueError(f"{text!r} is not an E.164 phone number: + and 8 to 15 digits")


def check_email(text: str) -> str:
    """A plausible mail address; ValueError says why not."""
    local = text.rpartition("@")[0]
    if len(text) > 254 or len(local) > 64 or not EMAIL.fullmatch(text):
        raise ValueError(f"{text!r} is not a mail address like name@example.cn")
    return text


class ChannelAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: Literal["sms", "email"]
    address: str

    @model_validator(mode="after")
    def _valid(self) -> ChannelAddress:
        (check_phone if self.channel == "sms" else check_email)(self.address)
        return self


class RecipientRecord(BaseModel):
    """One recipient as the file gives them, ready to be stored."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(min_length=1, max_length=200)
    kind: RecipientKind
    language: str = Field("zh-CN", pattern=r"^(zh-CN|en-US)$")
    area: Area
    point: Point | None = None  # the `lat`/`lon` given, also in `area` as a circle
    channels: list[ChannelAddress] = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)


class RejectedLine(BaseModel):
    """One problem: its line in the file (the header is line 1), the column it is in
    ("" for the line or the file as a whole), and what is wrong."""

    model_config = ConfigDict(frozen=True)
    line: int
    field: str
    reason: str


class RecipientImport(BaseModel):
    """What a file holds. `recipients` is empty whenever anything is `rejected`: an
    import is all or nothing, so that a file fixed and sent again is never half in twice."""

    recipients: list[RecipientRecord] = Field(default_factory=list)
    rejected: list[RejectedLine] = Field(default_factory=list)
    lines_checked: int = 0  # records read, good or bad

    @property
    def ok(self) -> bool:
        return not self.rejected


def parse_recipients(text: str) -> RecipientImport:
    """Read and check a whole recipients file, reporting every problem on every line.

    The caller stores nothing unless `rejected` is empty (`recipients` is then the whole
    file). Checked: the header's columns, each field, an area (codes, a point or circle, a
    polygon) and an address (sms, email) on every line, ids unique, at most `MAX_LINES`
    lines and `MAX_BYTES`."""
    text = text.removeprefix("\ufeff")
    if too_big := _file_limits(text):
        return RecipientImport(rejected=[RejectedLine(line=1, field="", reason=too_big)])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        return RecipientImport(rejected=[RejectedLine(line=1, field="", reason=str(exc))])
    columns = [name.strip().lower() for name in header]
    rejected, readable = _check_header(columns)
    if not readable:
        return RecipientImport(rejected=rejected)

    records: list[RecipientRecord] = []
    first_line_of: dict[str, int] = {}
    checked = 0
    start = reader.line_num + 1  # where the next record begins (a quoted field may span lines)
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue  # blank lines, or a row of empty cells, between records
            checked += 1
            problems = _Problems(line)
            if len(row) != len(columns):
                problems.reject("", f"{len(row)} fields where the header has {len(columns)}")
                rejected.extend(problems.found)
                continue
            values = dict(zip(columns, (cell.strip() for cell in row), strict=True))
            unnamed = next((c for n, c in zip(columns, row, strict=True) if not n and c), "")
            values.pop("", None)
            record = _record(values, problems, unnamed=unnamed.strip())
            record_id = values.get("id", "")
            if record_id in first_line_of:
                first = first_line_of[record_id]
                problems.reject("id", f"id {record_id!r} is on line {first} and on line {line}")
            elif record_id:
                first_line_of[record_id] = line
            if problems.found:
                rejected.extend(problems.found)
            elif record is not None:
                records.append(record)
    except csv.Error as exc:
        rejected.append(RejectedLine(line=start, field="", reason=f"unreadable CSV: {exc}"))
    if rejected:
        return RecipientImport(rejected=rejected, lines_checked=checked)
    return RecipientImport(recipients=records, lines_checked=checked)


class _Problems:
    """What is wrong on one line, as it is found."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.found: list[RejectedLine] = []

    def reject(self, field: str, reason: str) -> None:
        self.found.append(RejectedLine(line=self.line, field=field, reason=reason))

    def about(self, *fields: str) -> bool:
        return any(p.field in fields for p in self.found)


Reject = Callable[[str, str], None]
Plain = dict[str, object]  # a model's fields before it is built


def _file_limits(text: str) -> str:
    """Why the file is too large to import, or "" if it is not."""
    # UTF-8 takes at most four bytes a character: only a file near the limit needs encoding.
    if len(text) > MAX_BYTES or (
        len(text) * 4 > MAX_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES
    ):
        return f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it"
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines > MAX_LINES:
        return f"the file has {lines} lines, more than {MAX_LINES}; split it"
    return ""


def _check_header(columns: list[str]) -> tuple[list[RejectedLine], bool]:
    """The header's problems, and whether the lines below can still be read with it.

    Unknown columns (a misspelt `emial`) leave the rest readable, so the lines are
    checked too; a missing or repeated column does not.
    """
    if not any(columns):
        return [RejectedLine(line=1, field="", reason="no header row: the file is empty")], False
    known = ", ".join(COLUMNS)
    unknown = [
        RejectedLine(line=1, field=name, reason=f"unknown column {name!r}; known: {known}")
        for name in columns
        if name and name not in COLUMNS
    ]
    repeated = [
        RejectedLine(line=1, field=name, reason=f"column {name!r} appears more than once")
        for name in sorted({c for c in columns if c and columns.count(c) > 1})
    ]
    missing = [
        RejectedLine(line=1, field=name, reason=f"required column {name!r} is missing")
        for name in REQUIRED_COLUMNS
        if name not in columns
    ]
    return unknown + repeated + missing, not (repeated or missing)


def _record(values: dict[str, str], problems: _Problems, unnamed: str) -> RecipientRecord | None:
    """The line's record, or None with every problem added to `problems`."""
    reject = problems.reject
    if unnamed:
        # Spreadsheets add nameless columns at the end; only one with data is a problem.
        reject("", f"a value ({unnamed[:20]!r}) in a column the header does not name")
    record_id = values.get("id", "")
    if not _ID.fullmatch(record_id):
        reject("id", f"{record_id!r}: 1 to 64 letters, digits, _ or -" if record_id else "empty")
    name = values.get("name", "")
    if not name or len(name) > 200:
        reject("name", "empty" if not name else "longer than 200 characters")
    kind = values.get("kind", "").lower()
    if kind not in RecipientKind.__members__:
        reject("kind", f"{kind!r} is not one of {', '.join(RecipientKind)}")
    language = _LANGUAGE_OF.get((values.get("language", "") or "zh-CN").lower())
    if language is None:
        reject("language", f"{values['language']!r} is not one of {', '.join(LANGUAGES)}")

    codes = _codes(values.get("areas", ""), reject)
    point, circles = _point_and_circle(values, reject)
    polygons = _polygons(values.get("polygon", ""), reject)
    if not (codes or circles or polygons) and not problems.about(*_AREA_FIELDS):
        reject("areas", "no area: give division codes, lat and lon, or a polygon")

    channels = [
        *_addresses("sms", values.get("sms", ""), check_phone, reject),
        *_addresses("email", values.get("email", ""), check_email, reject),
    ]
    if not channels and not problems.about("sms", "email"):
        reject("sms", "no address: give an sms number or an email address")
    groups = _split(values.get("groups", ""))
    if len(groups) > MAX_ITEMS or any(len(group) > 64 for group in groups):
        reject("groups", f"at most {MAX_ITEMS} groups, each named in at most 64 characters")

    if problems.found or language is None:
        return None
    # One validation of plain values: pydantic builds the nested models faster than
    # Python constructing them one by one (a 200,000-line file is a matter of seconds).
    return RecipientRecord.model_validate(
        {
            "id": record_id,
            "name": name,
            "kind": kind,
            "language": language,
            "area": {"codes": codes, "circles": circles, "polygons": polygons},
            "point": point,
            "channels": channels,
            "groups": groups,
        }
    )


_AREA_FIELDS = ("areas", "lat", "lon", "radius_km", "polygon")
_LANGUAGE_OF = {language.lower(): language for language in LANGUAGES}


def _split(text: str) -> list[str]:
    """A `;`-separated list without empty items or repeats, in its order."""
    return list(dict.fromkeys(item.strip() for item in text.split(";") if item.strip()))


def _codes(text: str, reject: Reject) -> list[str]:
    codes = []
    for code in _split(text):
        try:
            codes.append(_AREA_CODE.validate_python(code))
        except ValidationError as exc:
            reject("areas", _reason(exc))
    if len(codes) > 500:
        reject("areas", "more than 500 division codes")
    return codes


def _number(field: str, text: str, low: float, high: float, reject: Reject) -> float | None:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        reject(field, f"{text!r} is not a number (decimals with a dot: 30.25)")
    elif not low <= value <= high:
        reject(field, f"{text} is outside {low:g} to {high:g}")
    else:
        return value
    return None


def _point_and_circle(values: dict[str, str], reject: Reject) -> tuple[Plain | None, list[Plain]]:
    """The line's point and its circle: `radius_km` around it (0 or none: a point)."""
    lat_text, lon_text = values.get("lat", ""), values.get("lon", "")
    radius_text = values.get("radius_km", "")
    if not (lat_text and lon_text):
        if lat_text or lon_text:
            reject("lon" if lat_text else "lat", "lat and lon go together: give both or neither")
        elif radius_text:
            reject("radius_km", "a radius needs lat and lon for its centre")
        return None, []
    lat = _number("lat", lat_text, -90, 90, reject)
    lon = _number("lon", lon_text, -180, 180, reject)
    radius = _number("radius_km", radius_text, 0, 2000, reject) if radius_text else 0.0
    if lat is None or lon is None or radius is None:
        return None, []
    point = {"lat": lat, "lon": lon}
    return point, [{"centre": point, "radius_km": radius or POINT_RADIUS_KM}]


def _polygons(text: str, reject: Reject) -> list[Polygon]:
    """The polygons of "lat,lon lat,lon …; …", each a closed ring."""
    polygons = []
    written = _split(text)
    for number, ring in enumerate(written, start=1):
        which = f"polygon {number}: " if len(written) > 1 else ""
        try:
            pairs = [pair.partition(",") for pair in ring.split()]
            polygons.append(Polygon(points=[{"lat": a, "lon": b} for a, _, b in pairs]))
        except ValidationError as exc:
            reject("polygon", which + _reason(exc))
    if len(polygons) > 50:
        reject("polygon", "more than 50 polygons")
    return polygons


def _addresses(
    channel: Literal["sms", "email"], text: str, check: Callable[[str], str], reject: Reject
) -> list[Plain]:
    items = _split(text)
    if len(items) > MAX_ITEMS:
        reject(channel, f"more than {MAX_ITEMS} addresses")
    found: dict[str, Plain] = {}
    for item in items:
        try:
            address = check(item)
        except ValueError as exc:
            reject(channel, str(exc))
            continue
        # "+86 138 0000 0101" and "+8613800000101" are one address written twice.
        found.setdefault(address, {"channel": channel, "address": address})
    return list(found.values())


def _reason(exc: ValidationError) -> str:
    """A pydantic error as a person reads it: the message, without its machinery."""
    messages = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"][-1:] == ("points",) and error["type"] == "too_short":
            message = "a polygon needs at least 4 points, the first repeated as the last"
        elif error["loc"][:1] == ("points",) and len(error["loc"]) == 3:
            number, coordinate = int(error["loc"][1]) + 1, error["loc"][2]
            message = (
                f"point {number} is not a lat,lon pair like 30.25,120.17"
                if error["type"] in ("float_parsing", "missing")
                else f"point {number}: {message.replace('Input', str(coordinate), 1)}"
            )
        messages.append(message)
    return "; ".join(dict.fromkeys(messages))
