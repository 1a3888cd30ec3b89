"""The hazards a warning can be about: their names, their CAP category and the incident
event type they relate to (so that an incident can raise a warning prefilled from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hazard:
    id: str
    zh: str
    en: str
    cap_category: str  # one of CAP's categories: Met, Geo, Fire, Health, ...
    event_type: str  # the catalog's event type an incident of it would have


HAZARDS: dict[str, Hazard] = {
    h.id: h
    for h in (
        Hazard("rainstorm", "暴雨", "rainstorm", "Met", "meteorological"),
        Hazard("typhoon", "台风", "typhoon", "Met", "meteorological"),
        Hazard("gale", "大风", "gale", "Met", "meteorological"),
        Hazard("thunderstorm", "雷电", "thunderstorm", "Met", "meteorological"),
        Hazard("hail", "冰雹", "hail", "Met", "meteorological"),
        Hazard("snowstorm", "暴雪", "snowstorm", "Met", "meteorological"),
        Hazard("cold_wave", "寒潮", "cold wave", "Met", "meteorological"),
        Hazard("high_temperature", "高温", "high temperature", "Met", "meteorological"),
        Hazard("fog", "大雾", "heavy fog", "Met", "meteorological"),
        Hazard("flood", "洪水", "flood", "Met", "flood"),
        Hazard("geological", "地质灾害", "geological hazard", "Geo", "geological"),
        Hazard("forest_fire", "森林火险", "forest fire danger", "Fire", "forest_fire"),
        Hazard("infectious_disease", "传染病", "epidemic", "Health", "infectious_disease"),
        Hazard("chemical", "危险化学品", "hazardous chemicals", "CBRNE", "hazardous_chemicals"),
        Hazard("air_pollution", "重污染天气", "heavy air pollution", "Env", "environmental"),
    )
}


def hazard_for_event_type(event_type: str) -> Hazard | None:
    """The hazard an incident of `event_type` would most likely be warned as."""
    return next((h for h in HAZARDS.values() if h.event_type == event_type), None)
