"""Pure escalation logic: where the chain goes next and who a step reaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.catalog import Channel
from service.plans.models import Escalation, Target
from service.roster.models import Person
from service.roster.roster import Roster


@dataclass(frozen=True)
class Position:
    step_index: int
    round: int


def next_position(escalation: Escalation, current: Position) -> Position | None:
    """The step after `current`; after the last step the chain restarts `repeat` times."""
    if current.step_index + 1 < len(escalation.steps):
        return Position(current.step_index + 1, current.round)
    if current.round < escalation.repeat:
        return Position(0, current.round + 1)
    return None


@dataclass(frozen=True)
class Delivery:
    person: Person
    channel: Channel
    address: str


@dataclass
class StepRecipients:
    deliveries: list[Delivery] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    uncovered: list[Target] = field(default_factory=list)
    unreachable: list[tuple[Person, Channel]] = field(default_factory=list)


def target_unit(roster: Roster, target: Target, incident_unit: str) -> str | None:
    if target.unit == "incident":
        return incident_unit
    if target.unit == "parent":
        return roster.unit(incident_unit).parent
    return target.unit


def resolve_step(
    roster: Roster,
    *,
    targets: list[Target],
    channels: list[Channel],
    incident_unit: str,
    at: datetime,
) -> StepRecipients:
    """Resolve a step's targets at instant `at` into one delivery per person and channel.

    Each person is reached once per channel, at their first (preferred) address for it,
    even when several targets resolve to them.
    """
    result = StepRecipients()
    seen: set[str] = set()
    for target in targets:
        if target.person is not None:
            people = [roster.person(target.person)]
        else:
            unit_id = target_unit(roster, target, incident_unit)
            assert target.role is not None
            people = [h.person for h in roster.holders(target.role, unit_id, at)] if unit_id else []
        if not people:
            result.uncovered.append(target)
        for person in people:
            if person.id in seen:
                continue
            seen.add(person.id)
            result.people.append(person)
            for channel in channels:
                addresses = person.addresses(channel)
                if addresses:
                    result.deliveries.append(Delivery(person, channel, addresses[0]))
                else:
                    result.unreachable.append((person, channel))
    return result
