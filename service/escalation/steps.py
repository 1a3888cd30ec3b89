"""Pure escalation logic: where the chain goes next (who a step reaches: plans.targets)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    step_index: int
    round: int


def next_position(step_count: int, rounds: int, current: Position) -> Position | None:
    """The step after `current`; after the last step the chain restarts `rounds` more times."""
    if current.step_index + 1 < step_count:
        return Position(current.step_index + 1, current.round)
    if current.round < rounds:
        return Position(0, current.round + 1)
    return None
