"""Who a plan's targets reach at an instant: roles, groups and people resolved through the
roster into one delivery per person and channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.catalog import Channel
from service.plans.models import Target
from service.roster.models import Person
from service.roster.roster import Roster
from service.texts.words import role_label


@dataclass(frozen=True)
class Delivery:
    person: Person
    channel: Channel
    address: str


@dataclass
class Recipients:
    deliveries: list[Delivery] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    uncovered: list[Target] = field(default_factory=list)
    unreachable: list[tuple[Person, Channel]] = field(default_factory=list)


def target_unit(roster: Roster, target: Target, incident_unit: str) -> str | None:
    if target.unit == "incident":
        return incident_unit
    if target.unit == "parent":
        return roster.unit(incident_unit).parent
    if target.unit == "top":
        return roster.top_unit(incident_unit).id
    return target.unit


def expand_groups(targets: list[Target], groups: dict[str, list[Target]]) -> list[Target]:
    expanded: list[Target] = []
    for target in targets:
        expanded.extend(groups.get(target.group, []) if target.group else [target])
    return expanded


def resolve_targets(
    roster: Roster,
    *,
    targets: list[Target],
    groups: dict[str, list[Target]],
    channels: list[Channel],
    incident_unit: str,
    at: datetime,
    exclude: set[str] | None = None,
) -> Recipients:
    """Resolve targets at instant `at` into one delivery per person and channel.

    Each person is reached once per channel, at their first (preferred) address for it,
    even when several targets resolve to them; people in `exclude` are left out.
    """
    result = Recipients()
    seen: set[str] = set(exclude or ())
    for target in expand_groups(targets, groups):
        if target.person is not None:
            people = [roster.person(target.person)]
        else:
            assert target.role is not None
            unit_id = target_unit(roster, target, incident_unit)
            people = [h.person for h in roster.holders(target.role, unit_id, at)] if unit_id else []
        if not people:
            result.uncovered.append(target)
        for person in people:
            if person.id in seen:
                continue
            seen.add(person.id)
            _reach(result, person, channels)
    return result


def reach_people(people: list[Person], channels: list[Channel]) -> Recipients:
    """One delivery per person and channel, at the person's first address for it."""
    result = Recipients()
    for person in people:
        _reach(result, person, channels)
    return result


def _reach(result: Recipients, person: Person, channels: list[Channel]) -> None:
    result.people.append(person)
    for channel in channels:
        lookup = Channel.sms if channel is Channel.voice else channel
        addresses = person.addresses(lookup)
        if addresses:
            result.deliveries.append(Delivery(person, channel, addresses[0]))
        else:
            result.unreachable.append((person, channel))


def describe_target(roster: Roster, target: Target, incident_unit: str, language: str) -> str:
    """A target as people read it: 青山县人民政府值班室值班员 / the duty officer of …."""
    if target.person is not None:
        person = roster.people.get(target.person)
        return person.name if person else target.person
    if target.group is not None:
        return target.group
    assert target.role is not None
    unit_id = target_unit(roster, target, incident_unit)
    unit = roster.units.get(unit_id) if unit_id else None
    role = role_label(target.role, language)
    if unit is None:
        return role
    return f"{unit.name}{role}" if language == "zh" else f"the {role} of {unit.name}"
