"""The loaded roster and the one place roles are resolved to people."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.errors import UnknownValue
from service.roster.models import ROTATING_ROLES, Person, Position, Rotation, Unit


class RosterDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[Unit] = Field(min_length=1)
    people: list[Person] = Field(default_factory=list)
    rotations: list[Rotation] = Field(default_factory=list)
    positions: list[Position] = Field(default_factory=list)


@dataclass(frozen=True)
class RoleHolder:
    role: str
    unit_id: str
    person: Person


@dataclass
class Roster:
    units: dict[str, Unit]
    people: dict[str, Person]
    rotations: list[Rotation] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)

    @classmethod
    def from_document(cls, document: RosterDocument) -> Roster:
        return cls(
            units={u.id: u for u in document.units},
            people={p.id: p for p in document.people},
            rotations=list(document.rotations),
            positions=list(document.positions),
        )

    @property
    def role_names(self) -> set[str]:
        return set(ROTATING_ROLES) | {p.role for p in self.positions}

    def unit(self, unit_id: str) -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise UnknownValue("unit", unit_id, sorted(self.units)) from None

    def person(self, person_id: str) -> Person:
        try:
            return self.people[person_id]
        except KeyError:
            raise UnknownValue("person", person_id) from None

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The unit's parent, its parent's parent, and so on up to the top."""
        chain = []
        parent = self.unit(unit_id).parent
        while parent is not None:
            unit = self.units[parent]
            chain.append(unit)
            parent = unit.parent
        return chain

    def holders(self, role: str, unit_id: str, at: datetime) -> list[RoleHolder]:
        """Who holds `role` in `unit_id` at instant `at`; empty if nobody does."""
        unit = self.unit(unit_id)
        local = at.astimezone(unit.zone)
        person_ids: list[str] = []
        for rotation in self.rotations:
            if rotation.unit == unit_id and rotation.role == role:
                person_ids.append(rotation.holder_at(local))
        for position in self.positions:
            if position.unit == unit_id and position.role == role:
                person_ids.append(position.person)
        unique = dict.fromkeys(person_ids)
        return [RoleHolder(role, unit_id, self.people[pid]) for pid in unique]
