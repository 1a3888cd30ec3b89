"""Read and cross-check the roster YAML file."""

from __future__ import annotations

from pathlib import Path

from service.errors import RosterInvalid
from service.roster.roster import Roster, RosterDocument
from service.yamlfile import YamlProblem, load_model


def load_roster(path: Path) -> Roster:
    """Load the roster; raise RosterInvalid listing every problem found."""
    try:
        document = load_model(path, RosterDocument)
    except YamlProblem as exc:
        raise RosterInvalid(exc.message.splitlines()) from None

    problems: list[str] = []
    unit_ids = [u.id for u in document.units]
    person_ids = [p.id for p in document.people]
    known_units, known_people = set(unit_ids), set(person_ids)
    for duplicates, what in ((unit_ids, "unit"), (person_ids, "person")):
        for ident in sorted({i for i in duplicates if duplicates.count(i) > 1}):
            problems.append(f"{path}: {what} {ident!r} is defined more than once")

    def check_unit(where: str, unit_id: str | None) -> None:
        if unit_id is not None and unit_id not in known_units:
            problems.append(f"{path}: at {where}: unknown unit {unit_id!r}")

    def check_person(where: str, person_id: str) -> None:
        if person_id not in known_people:
            problems.append(f"{path}: at {where}: unknown person {person_id!r}")

    for i, unit in enumerate(document.units):
        check_unit(f"units.{i}.parent", unit.parent)
    for i, person in enumerate(document.people):
        check_unit(f"people.{i}.unit", person.unit)
    for i, rotation in enumerate(document.rotations):
        check_unit(f"rotations.{i}.unit", rotation.unit)
        for j, person_id in enumerate(rotation.people):
            check_person(f"rotations.{i}.people.{j}", person_id)
    for i, position in enumerate(document.positions):
        check_unit(f"positions.{i}.unit", position.unit)
        check_person(f"positions.{i}.person", position.person)
    if not problems:
        problems.extend(_parent_cycles(path, document))
    if problems:
        raise RosterInvalid(problems)
    return Roster.from_document(document)


def _parent_cycles(path: Path, document: RosterDocument) -> list[str]:
    parents = {u.id: u.parent for u in document.units}
    problems = []
    for start in parents:
        seen = [start]
        current = parents[start]
        while current is not None:
            if current in seen:
                problems.append(
                    f"{path}: unit parents form a cycle: {' -> '.join([*seen, current])}"
                )
                return problems
            seen.append(current)
            current = parents[current]
    return problems
