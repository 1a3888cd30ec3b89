"""The national incident taxonomy: four categories, their event types, four levels."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError


class Category(StrEnum):
    natural_disaster = "natural_disaster"
    accident_disaster = "accident_disaster"
    public_health = "public_health"
    social_security = "social_security"


class Level(StrEnum):
    """I is the most severe (特別重大), IV the least (一般)."""

    I = "I"  # noqa: E741
    II = "II"
    III = "III"
    IV = "IV"


class Channel(StrEnum):
    """How a message goes: to a person by SMS, email or voice; to a downstream receiver
    of public warnings (a broadcaster, a TV station, a cell-broadcast gateway) as CAP."""

    sms = "sms"
    email = "email"
    voice = "voice"
    cap = "cap"


PERSON_CHANNELS = (Channel.sms, Channel.email, Channel.voice)


def _person_channel(value: object) -> object:
    if value in PERSON_CHANNELS or value in {c.value for c in PERSON_CHANNELS}:
        return value
    raise PydanticCustomError(
        "enum",
        "Input should be 'sms', 'email' or 'voice'",
        {"expected": "'sms', 'email' or 'voice'"},
    )


# The channels a person is reached by (plans and rosters name only these, never `cap`).
PersonChannel = Annotated[Channel, BeforeValidator(_person_channel)]


class ReportMedium(StrEnum):
    """How a report up the chain is made."""

    phone = "phone"
    sms = "sms"
    written = "written"
    fax = "fax"
    system = "system"


EVENT_TYPES: dict[Category, tuple[str, ...]] = {
    Category.natural_disaster: (
        "flood",
        "drought",
        "meteorological",
        "earthquake",
        "geological",
        "marine",
        "biological",
        "forest_fire",
    ),
    Category.accident_disaster: (
        "production_safety",
        "road_traffic",
        "fire",
        "hazardous_chemicals",
        "infrastructure",
        "environmental",
        "nuclear_radiation",
    ),
    Category.public_health: (
        "infectious_disease",
        "food_safety",
        "occupational_poisoning",
        "animal_epidemic",
        "mass_unexplained_illness",
    ),
    Category.social_security: (
        "mass_incident",
        "terrorism",
        "economic_security",
        "foreign_related",
    ),
}

CATEGORY_NAMES: dict[Category, dict[str, str]] = {
    Category.natural_disaster: {"zh": "自然灾害", "en": "natural disaster"},
    Category.accident_disaster: {"zh": "事故灾难", "en": "accident or disaster"},
    Category.public_health: {"zh": "公共卫生事件", "en": "public health event"},
    Category.social_security: {"zh": "社会安全事件", "en": "social security event"},
}

LEVEL_NAMES: dict[Level, dict[str, str]] = {
    Level.I: {"zh": "特别重大", "en": "extremely serious"},
    Level.II: {"zh": "重大", "en": "serious"},
    Level.III: {"zh": "较大", "en": "major"},
    Level.IV: {"zh": "一般", "en": "general"},
}


def category_of(event_type: str) -> Category | None:
    for category, types in EVENT_TYPES.items():
        if event_type in types:
            return category
    return None
