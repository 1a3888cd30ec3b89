"""Read and cross-check the roster YAML file."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from service.errors import RosterInvalid
from service.roster.roster import Roster, RosterDocument
from service.yamlfile import Document, YamlProblem, read_yaml_document, validation_problems


def load_roster(path: Path) -> Roster:
    """Load the roster YAML file; raise RosterInvalid listing every problem, with its place."""
    try:
        document = read_yaml_document(path)
    except YamlProblem as exc:
        raise RosterInvalid(exc.problems) from None
    return roster_from_data(document)


def roster_from_data(document: Document) -> Roster:
    """Validate and cross-check roster data (from YAML or from an API request)."""
    try:
        roster = RosterDocument.model_validate(document.data)
    except ValidationError as exc:
        raise RosterInvalid(validation_problems(document, exc)) from None
    problems = _cross_check(document, roster)
    if problems:
        raise RosterInvalid(problems)
    return Roster.from_document(roster)


def _cross_check(document: Document, roster: RosterDocument) -> list[str]:
    problems: list[str] = []
    unit_ids = [u.id for u in roster.units]
    person_ids = [p.id for p in roster.people]
    known_units, known_people = set(unit_ids), set(person_ids)
    for section, ids in (("units", unit_ids), ("people", person_ids)):
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in seen:
                problems.append(document.problem((section, i, "id"), f"{ident!r} is defined twice"))
            seen.add(ident)

    def check_unit(location: tuple[str | int, ...], unit_id: str | None) -> None:
        if unit_id is not None and unit_id not in known_units:
            problems.append(document.problem(location, f"unknown unit {unit_id!r}"))

    def check_person(location: tuple[str | int, ...], person_id: str) -> None:
        if person_id not in known_people:
            problems.append(document.problem(location, f"unknown person {person_id!r}"))

    for i, unit in enumerate(roster.units):
        check_unit(("units", i, "parent"), unit.parent)
    for i, person in enumerate(roster.people):
        check_unit(("people", i, "unit"), person.unit)
    for i, rotation in enumerate(roster.rotations):
        check_unit(("rotations", i, "unit"), rotation.unit)
        for j, person_id in enumerate(rotation.people):
            check_person(("rotations", i, "people", j), person_id)
    for i, position in enumerate(roster.positions):
        check_unit(("positions", i, "unit"), position.unit)
        check_person(("positions", i, "person"), position.person)
    for i, line in enumerate(roster.duty_table):
        check_unit(("duty_table", i, "unit"), line.unit)
        check_person(("duty_table", i, "person"), line.person)
    override_ids: set[str] = set()
    for i, override in enumerate(roster.overrides):
        check_unit(("overrides", i, "unit"), override.unit)
        check_person(("overrides", i, "person"), override.person)
        if override.replaces is not None:
            check_person(("overrides", i, "replaces"), override.replaces)
        if override.id in override_ids:
            problems.append(
                document.problem(("overrides", i, "id"), f"{override.id!r} is defined twice")
            )
        override_ids.add(override.id)
    for i, period in enumerate(roster.sensitive_periods):
        for j, unit_id in enumerate(period.units):
            check_unit(("sensitive_periods", i, "units", j), unit_id)
    if not problems:
        problems.extend(_parent_cycles(document, roster))
    return problems


def _parent_cycles(document: Document, roster: RosterDocument) -> list[str]:
    parents = {u.id: u.parent for u in roster.units}
    for start in parents:
        chain = [start]
        current = parents[start]
        while current is not None:
            if current in chain:
                index = next(i for i, u in enumerate(roster.units) if u.id == start)
                cycle = " -> ".join([*chain, current])
                return [
                    document.problem(("units", index, "parent"), f"units form a cycle: {cycle}")
                ]
            chain.append(current)
            current = parents[current]
    return []
