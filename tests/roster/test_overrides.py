"""Overrides and swaps: approved ones change who is on duty, and survive rotation edits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.roster.roster import Roster, RosterDocument
from tests.roster.builders import roster, rotation

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 5, 10)


def at(hour: int, day: date = DAY, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


def override(
    oid: str,
    person: str,
    start: datetime,
    end: datetime,
    replaces: str | None = None,
    approved: bool = True,
    role: str = "duty_officer",
) -> dict[str, Any]:
    return {
        "id": oid,
        "unit": "u",
        "role": role,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "person": person,
        "replaces": replaces,
        "reason": "家中有事",
        "requested_by": "a",
        "approved_by": "boss" if approved else None,
        "approved_at": at(7).isoformat() if approved else None,
    }


def on(r: Roster, when: datetime) -> list[str]:
    return r.holder_ids("duty_officer", "u", when)


def test_whole_shift_override() -> None:
    base = roster()
    regular = on(base, at(12))[0]
    covered = roster(
        overrides=[
            override(
                "o1",
                "c" if regular != "c" else "a",
                at(8, minute=30),
                at(8, DAY + timedelta(days=1), 30),
            )
        ]
    )
    assert on(covered, at(12)) != [regular] and len(on(covered, at(12))) == 1
    assert on(covered, at(9, DAY + timedelta(days=1))) == on(base, at(9, DAY + timedelta(days=1)))


def test_part_of_a_shift_replacing_one_person() -> None:
    """From 14:00 to 16:00 `c` covers for the officer on duty; before and after, no change."""
    base = roster()
    regular = on(base, at(12))[0]
    r = roster(overrides=[override("o1", "c", at(14), at(16), replaces=regular)])
    assert on(r, at(13, minute=59)) == [regular]
    assert on(r, at(14)) == ["c"]
    assert on(r, at(16)) == [regular]
    pieces = [
        (a.person, a.start, a.end, a.source)
        for a in r.assignments("u", "duty_officer", at(12), at(18))
    ]
    assert pieces == [
        (regular, at(12), at(14), "rotation"),
        ("c", at(14), at(16), "override:o1"),
        (regular, at(16), at(18), "rotation"),
    ]


def test_unapproved_override_changes_nothing() -> None:
    base = roster()
    r = roster(overrides=[override("o1", "c", at(10), at(20), approved=False)])
    assert on(r, at(12)) == on(base, at(12))


def test_override_survives_an_edited_rotation() -> None:
    """After the rotation's people change, the override still holds at its time."""
    edited = roster(
        rotations=[rotation("duty_officer", ["b", "a"]), rotation("leader_on_shift", ["boss"])],
        overrides=[override("o1", "c", at(10), at(20))],
    )
    assert on(edited, at(12)) == ["c"]
    assert on(edited, at(21)) == [edited.rotations[0].person_on(DAY)]
    reloaded = Roster.from_document(
        RosterDocument.model_validate_json(edited.document.model_dump_json())
    )
    assert on(reloaded, at(12)) == ["c"]


def test_swap_is_two_overrides() -> None:
    """a and b swap their shifts on two days; both days change, nothing else."""
    base = roster(
        rotations=[rotation("duty_officer", ["a", "b"]), rotation("leader_on_shift", ["boss"])]
    )
    d1, d2 = DAY, DAY + timedelta(days=1)
    first, second = on(base, at(12, d1))[0], on(base, at(12, d2))[0]
    swapped = roster(
        rotations=[rotation("duty_officer", ["a", "b"]), rotation("leader_on_shift", ["boss"])],
        overrides=[
            override("s1", second, at(8, d1, 30), at(8, d2, 30), replaces=first),
            override(
                "s2", first, at(8, d2, 30), at(8, d2 + timedelta(days=1), 30), replaces=second
            ),
        ],
    )
    assert on(swapped, at(12, d1)) == [second] and on(swapped, at(12, d2)) == [first]
    assert on(swapped, at(12, d2 + timedelta(days=1))) == on(base, at(12, d2 + timedelta(days=1)))
