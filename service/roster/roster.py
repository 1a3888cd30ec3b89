"""The loaded roster and the one place roles are resolved to people.

Order of authority for a rotating role at an instant: an override beats a duty-table
line, which beats the rotation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from service.errors import UnknownValue
from service.roster.models import (
    ROTATING_ROLES,
    CalendarSettings,
    DutyAssignment,
    Override,
    Person,
    Position,
    Rotation,
    SensitivePeriod,
    Unit,
)
from service.roster.shifts import as_utc, instance, instance_at, instances_between

Key = tuple[str, str]  # (unit, role)
_TABLE_DAYS_BACK = tuple(timedelta(days=back) for back in range(3))


class RosterDocument(BaseModel):
    """The roster as written in YAML and stored, version by version, in the database."""

    model_config = ConfigDict(extra="forbid")

    units: list[Unit] = Field(min_length=1)
    people: list[Person] = Field(default_factory=list)
    rotations: list[Rotation] = Field(default_factory=list)
    duty_table: list[DutyAssignment] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    positions: list[Position] = Field(default_factory=list)
    sensitive_periods: list[SensitivePeriod] = Field(default_factory=list)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)


@dataclass(frozen=True)
class RoleHolder:
    role: str
    unit_id: str
    person: Person


@dataclass(frozen=True, slots=True)
class Assignment:
    """Someone holds a role in a unit from `start` to `end` (UTC)."""

    unit: str
    role: str
    person: str
    start: datetime
    end: datetime
    source: str  # rotation, duty_table or override:<id>


@dataclass(frozen=True, slots=True)
class _Span:
    """An approved override with its bounds in UTC, for cheap comparisons."""

    start: datetime
    end: datetime
    override: Override


@dataclass(frozen=True, slots=True)
class _RoleSlot:
    """Everything that decides who holds one rotating role of one unit, gathered once."""

    zone: ZoneInfo
    rotations: tuple[Rotation, ...]
    table: dict[date, list[DutyAssignment]]
    overrides: tuple[_Span, ...]  # approved only, by start


@dataclass(slots=True)
class _Instant:
    """The instant last asked about, in UTC and as local days.

    "Who is on" asks every unit about the same instant: its conversions, a noticeable share
    of each lookup, are made once per zone instead of once per unit and role.
    """

    given: datetime
    utc: datetime
    local_days: dict[ZoneInfo, date] = field(default_factory=dict)

    def local_day(self, zone: ZoneInfo) -> date:
        day = self.local_days.get(zone)
        if day is None:
            day = self.local_days[zone] = self.utc.astimezone(zone).date()
        return day


@dataclass
class Roster:
    document: RosterDocument
    units: dict[str, Unit] = field(init=False)
    people: dict[str, Person] = field(init=False)
    _rotations: dict[Key, list[Rotation]] = field(init=False)
    _table: dict[Key, dict[object, list[DutyAssignment]]] = field(init=False)
    _overrides: dict[Key, list[Override]] = field(init=False)
    _positions: dict[Key, list[str]] = field(init=False)
    # A drill's roster: role -> the person who plays it in every unit, whoever holds it.
    stand_ins: dict[str, str] = field(default_factory=dict)
    # Caches, filled on first use; never part of a roster's value.
    _slots: dict[Key, _RoleSlot] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _instant: _Instant | None = field(init=False, repr=False, compare=False, default=None)
    _role_holders: dict[tuple[str, str, str], RoleHolder] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        doc = self.document
        self.units = {u.id: u for u in doc.units}
        self.people = {p.id: p for p in doc.people}
        self._rotations = defaultdict(list)
        for rotation in doc.rotations:
            self._rotations[(rotation.unit, rotation.role)].append(rotation)
        self._table = defaultdict(lambda: defaultdict(list))
        for line in doc.duty_table:
            self._table[(line.unit, line.role)][line.date].append(line)
        self._overrides = defaultdict(list)
        # Only approved overrides change who is on duty; requested ones wait.
        approved = [o for o in doc.overrides if o.approved_at is not None]
        for override in sorted(approved, key=lambda o: o.start):
            self._overrides[(override.unit, override.role)].append(override)
        self._positions = defaultdict(list)
        for position in doc.positions:
            self._positions[(position.unit, position.role)].append(position.person)

    @classmethod
    def from_document(cls, document: RosterDocument) -> Roster:
        return cls(document)

    def with_stand_ins(self, stand_ins: dict[str, str]) -> Roster:
        """This roster as a drill plays it: each role in `stand_ins` held by its stand-in."""
        for role, person_id in stand_ins.items():
            if person_id not in self.people:
                raise UnknownValue(f"stand_ins.{role}", person_id)
        return replace(self, stand_ins=dict(stand_ins))

    @property
    def rotations(self) -> list[Rotation]:
        return self.document.rotations

    @property
    def positions(self) -> list[Position]:
        return self.document.positions

    @property
    def role_names(self) -> set[str]:
        return set(ROTATING_ROLES) | {p.role for p in self.document.positions}

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

    def parent_of(self, unit_id: str) -> str | None:
        """The unit above `unit_id`; None at the top or for a unit not in the roster."""
        unit = self.units.get(unit_id)
        return unit.parent if unit else None

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The unit's parent, its parent's parent, and so on up to the top."""
        chain = []
        parent = self.unit(unit_id).parent
        while parent is not None:
            unit = self.units[parent]
            chain.append(unit)
            parent = unit.parent
        return chain

    def top_unit(self, unit_id: str) -> Unit:
        """The unit at the top of `unit_id`'s chain (the city), or the unit itself."""
        ancestors = self.ancestors(unit_id)
        return ancestors[-1] if ancestors else self.unit(unit_id)

    def duty_office(self, at: datetime, unit_id: str | None = None) -> list[Person]:
        """The duty office (值班室) at instant `at`: the shift of the top unit above
        `unit_id` (of every top unit, for a matter of no one unit), its duty officer and
        its leader on shift. It is told what nobody else can act on: a coverage gap, a
        chain nobody answered, a person out of reach, a gap in the roster ahead."""
        tops = (
            [self.top_unit(unit_id)]
            if unit_id is not None and unit_id in self.units
            else [u for u in self.units.values() if u.parent is None]
        )
        people = [
            holder.person
            for top in tops
            for role in ROTATING_ROLES
            for holder in self.holders(role, top.id, at)
        ]
        return list({p.id: p for p in people}.values())

    def _slot(self, unit_id: str, role: str) -> _RoleSlot:
        """The rotating role's data, gathered on first use; an unknown unit is an error."""
        key = (unit_id, role)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _RoleSlot(
                self.unit(unit_id).zone,
                tuple(self._rotations.get(key, ())),
                self._table.get(key, {}),
                tuple(
                    _Span(as_utc(o.start), as_utc(o.end), o) for o in self._overrides.get(key, ())
                ),
            )
        return slot

    def _instant_of(self, at: datetime) -> _Instant:
        instant = self._instant
        if instant is None or instant.given is not at:
            instant = self._instant = _Instant(at, as_utc(at))
        return instant

    def holder_ids(self, role: str, unit_id: str, at: datetime) -> list[str]:
        """Ids of whoever holds `role` in `unit_id` at instant `at`, overrides applied."""
        if self.stand_ins and role in self.stand_ins:
            return [self.stand_ins[role]]
        if role not in ROTATING_ROLES:
            return list(dict.fromkeys(self._positions.get((unit_id, role), ())))
        slot = self._slot(unit_id, role)
        zone, table = slot.zone, slot.table
        instant = self._instant_of(at)
        at = instant.utc
        holders: list[str] = []
        for rotation in slot.rotations:
            shift = instance_at(rotation, at, zone)
            if shift is not None and shift.shift_date not in table:
                person = rotation.person_on(shift.shift_date)
                if person is not None:
                    holders.append(person)
        if table:
            local_day = instant.local_day(zone)
            for back in _TABLE_DAYS_BACK:
                for line in table.get(local_day - back, ()):
                    shift = instance(line, line.date, zone)
                    if shift.start <= at < shift.end:
                        holders.append(line.person)
        for span in slot.overrides:
            if span.start > at:
                break
            if at < span.end:
                override = span.override
                if override.replaces is None:
                    holders = [override.person]
                else:
                    holders = [override.person if h == override.replaces else h for h in holders]
        return holders if len(holders) < 2 else list(dict.fromkeys(holders))

    def holders(self, role: str, unit_id: str, at: datetime) -> list[RoleHolder]:
        """Who holds `role` in `unit_id` at instant `at`; empty if nobody does."""
        # RoleHolders are immutable, so each (role, unit, person) is made once and reused.
        made = self._role_holders
        result = []
        for person_id in self.holder_ids(role, unit_id, at):
            holder = made.get((role, unit_id, person_id))
            if holder is None:
                holder = RoleHolder(role, unit_id, self.people[person_id])
                made[(role, unit_id, person_id)] = holder
            result.append(holder)
        return result

    def assignments(
        self, unit_id: str, role: str, start: datetime, end: datetime, *, clip: bool = True
    ) -> list[Assignment]:
        """Every stretch someone holds a rotating role in [start, end), overrides applied.

        With `clip`, stretches are cut to the period; without, whole shifts are kept.
        """
        slot = self._slot(unit_id, role)
        zone, table = slot.zone, slot.table
        start_utc, end_utc = as_utc(start), as_utc(end)
        base: list[Assignment] = []
        for rotation in slot.rotations:
            for shift in instances_between(rotation, start_utc, end_utc, zone):
                person = rotation.person_on(shift.shift_date)
                if person is not None and shift.shift_date not in table:
                    base.append(
                        Assignment(unit_id, role, person, shift.start, shift.end, "rotation")
                    )
        for lines in table.values():
            for line in lines:
                shift = instance(line, line.date, zone)
                if shift.end > start_utc and shift.start < end_utc:
                    base.append(
                        Assignment(unit_id, role, line.person, shift.start, shift.end, "duty_table")
                    )
        for span in slot.overrides:
            if span.end <= start_utc or span.start >= end_utc:
                continue
            base = _apply_override(base, span, unit_id, role)
        kept = [a for a in base if a.end > start_utc and a.start < end_utc]
        if clip:
            kept = [_clipped(a, start, end, start_utc, end_utc) for a in kept]
        return sorted(kept, key=lambda a: (a.start, a.person))


def _clipped(
    item: Assignment, start: datetime, end: datetime, start_utc: datetime, end_utc: datetime
) -> Assignment:
    """`item` cut to [start, end); the bounds given keep their own time zone."""
    if item.start >= start_utc and item.end <= end_utc:
        return item
    return Assignment(
        item.unit,
        item.role,
        item.person,
        item.start if item.start >= start_utc else start,
        item.end if item.end <= end_utc else end,
        item.source,
    )


def _apply_override(
    base: list[Assignment], span: _Span, unit_id: str, role: str
) -> list[Assignment]:
    override = span.override
    result: list[Assignment] = []
    taken: list[tuple[datetime, datetime]] = []
    for item in base:
        affected = override.replaces is None or item.person == override.replaces
        if not affected or item.end <= span.start or item.start >= span.end:
            result.append(item)
            continue
        if item.start < span.start:
            result.append(
                Assignment(unit_id, role, item.person, item.start, override.start, item.source)
            )
        if item.end > span.end:
            result.append(
                Assignment(unit_id, role, item.person, override.end, item.end, item.source)
            )
        taken.append(
            (
                item.start if item.start >= span.start else override.start,
                item.end if item.end <= span.end else override.end,
            )
        )
    source = f"override:{override.id}"
    if override.replaces is None:
        result.append(
            Assignment(unit_id, role, override.person, override.start, override.end, source)
        )
    else:
        result.extend(Assignment(unit_id, role, override.person, s, e, source) for s, e in taken)
    return result
