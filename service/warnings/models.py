"""A public warning as people write it and as CAP carries it: plain values, no I/O."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from service.catalog import Level


class Colour(StrEnum):
    """The four warning colours; red (I) is the most severe."""

    red = "red"
    orange = "orange"
    yellow = "yellow"
    blue = "blue"


COLOUR_OF_LEVEL: dict[Level, Colour] = {
    Level.I: Colour.red,
    Level.II: Colour.orange,
    Level.III: Colour.yellow,
    Level.IV: Colour.blue,
}
LEVEL_OF_COLOUR = {colour: level for level, colour in COLOUR_OF_LEVEL.items()}
COLOUR_NAMES: dict[Colour, dict[str, str]] = {
    Colour.red: {"zh": "红色", "en": "red"},
    Colour.orange: {"zh": "橙色", "en": "orange"},
    Colour.yellow: {"zh": "黄色", "en": "yellow"},
    Colour.blue: {"zh": "蓝色", "en": "blue"},
}
# The common CAP mapping (domain notes); settings may change it.
SEVERITY_OF_COLOUR: dict[Colour, str] = {
    Colour.red: "Extreme",
    Colour.orange: "Severe",
    Colour.yellow: "Moderate",
    Colour.blue: "Minor",
}


class CapStatus(StrEnum):
    """CAP `status`: a real warning, a drill (演练), or a test of the system."""

    Actual = "Actual"
    Exercise = "Exercise"
    Test = "Test"


class MsgType(StrEnum):
    Alert = "Alert"
    Update = "Update"
    Cancel = "Cancel"


class Stage(StrEnum):
    """Where a warning message is in its workflow (12379: 制作 → 审核 → 签发 → 发布)."""

    draft = "draft"  # being written, or sent back with requested changes
    in_review = "in_review"  # submitted: waiting for its reviewers
    awaiting_signoff = "awaiting_signoff"  # reviewed: waiting for a signer
    published = "published"  # signed and going out / out
    superseded = "superseded"  # an update replaced it
    cancelled = "cancelled"  # lifted (解除), or withdrawn before publishing
    expired = "expired"  # past its expiry


LIVE_STAGES = (Stage.published,)


def _gbt2260(code: str) -> str:
    """A GB/T 2260 division code (6 digits), or a township code under it (9 or 12)."""
    if not re.fullmatch(r"\d{6}(\d{3}(\d{3})?)?", code):
        raise ValueError(
            f"{code!r} is not a GB/T 2260 area code: 6 digits (e.g. 330102), or a town's 9 or 12"
        )
    if code[:2] == "00":
        raise ValueError(f"{code!r} is not a GB/T 2260 area code: no province starts with 00")
    return code


AreaCode = Annotated[str, AfterValidator(_gbt2260)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: Latitude
    lon: Longitude


class Circle(BaseModel):
    """A centre and a radius in kilometres (CAP `circle`: "lat,lon radius")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    centre: Point
    radius_km: float = Field(gt=0, le=2000)


class Polygon(BaseModel):
    """WGS-84 points, the first repeated as the last (CAP `polygon`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    points: list[Point] = Field(min_length=4, max_length=2000)

    @model_validator(mode="after")
    def _closed(self) -> Polygon:
        if self.points[0] != self.points[-1]:
            raise ValueError("a polygon's first point must be repeated as its last")
        return self


class Area(BaseModel):
    """Where a warning applies, or where a recipient is: division codes (a county's code
    covers its towns), polygons and circles. At least one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = Field("", max_length=500)
    codes: list[AreaCode] = Field(default_factory=list, max_length=500)
    polygons: list[Polygon] = Field(default_factory=list, max_length=50)
    circles: list[Circle] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _somewhere(self) -> Area:
        if not (self.codes or self.polygons or self.circles):
            raise ValueError("an area needs at least one code, polygon or circle")
        return self


class WarningText(BaseModel):
    """What a warning says in one language (one CAP `info`)."""

    model_config = ConfigDict(extra="forbid")
    language: str = Field("zh-CN", pattern=r"^(zh-CN|en-US)$")
    headline: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    instruction: str = Field("", max_length=4000)


class WarningContent(BaseModel):
    """What a drafter writes: a warning, its update, or (texts only) its lifting."""

    model_config = ConfigDict(extra="forbid")
    hazard: str = Field(description="Hazard id (service.warnings.hazards), e.g. rainstorm.")
    level: Level
    areas: list[Area] = Field(min_length=1, max_length=100)
    texts: list[WarningText] = Field(min_length=1, max_length=2)
    effective: datetime | None = None  # None: when published
    onset: datetime | None = None
    expires: datetime
    status: CapStatus = CapStatus.Actual
    urgency: str = Field("Expected", pattern=r"^(Immediate|Expected|Future|Past|Unknown)$")
    certainty: str = Field("Likely", pattern=r"^(Observed|Likely|Possible|Unlikely|Unknown)$")
    only_groups: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Only recipients in one of these groups (e.g. a drill's participants); "
        "empty: everyone in the areas.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WarningContent:
        from service.warnings.hazards import HAZARDS

        if self.hazard not in HAZARDS:
            raise ValueError(f"unknown hazard {self.hazard!r}; known: {', '.join(sorted(HAZARDS))}")
        languages = [t.language for t in self.texts]
        if "zh-CN" not in languages:
            raise ValueError("a warning needs its Chinese text (zh-CN)")
        if len(set(languages)) != len(languages):
            raise ValueError("one text per language")
        for moment in (self.effective, self.onset, self.expires):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need a UTC offset, e.g. 2026-07-01T03:00:00+08:00")
        if self.effective is not None and self.expires <= self.effective:
            raise ValueError("expires must come after effective")
        return self

    @property
    def colour(self) -> Colour:
        return COLOUR_OF_LEVEL[self.level]

    def text(self, language: str = "zh-CN") -> WarningText:
        return next((t for t in self.texts if t.language == language), self.texts[0])


# What CAP carries, as the renderer and the parser see it.


class CapReference(BaseModel):
    model_config = ConfigDict(frozen=True)
    sender: str
    identifier: str
    sent: datetime


class CapInfo(BaseModel):
    language: str
    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str | None = None
    parameters: list[tuple[str, str]] = Field(default_factory=list)
    areas: list[Area] = Field(default_factory=list)


class CapAlert(BaseModel):
    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    scope: str = "Public"
    note: str = ""
    references: list[CapReference] = Field(default_factory=list)
    incidents: list[str] = Field(default_factory=list)
    infos: list[CapInfo] = Field(default_factory=list)
