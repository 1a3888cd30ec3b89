"""Where an escalation chain goes next: plain values, no database."""

from __future__ import annotations

from service.escalation.chain import still_wanted
from service.escalation.steps import Position, next_position
from service.escalation.tables import EscalationStepRow, StepKind


def test_the_chain_walks_its_steps_then_repeats_then_ends() -> None:
    """Three steps, one repeat: 0,1,2 then 0,1,2 of round 1, then nothing."""
    walked = [Position(0, 0)]
    while (following := next_position(3, 1, walked[-1])) is not None:
        walked.append(following)
    assert walked == [Position(i, r) for r in (0, 1) for i in range(3)]


def test_a_single_step_without_repeat_is_the_last() -> None:
    """One step and no repeat: nothing follows it."""
    assert next_position(1, 0, Position(0, 0)) is None


def test_chain_steps_stop_at_an_acknowledgement_and_ack_timeouts_need_one() -> None:
    """A chain step fires only unacknowledged, an ack timeout only acknowledged, neither
    once the incident is resolved or closed."""
    step = EscalationStepRow(kind=StepKind.step)
    timeout = EscalationStepRow(kind=StepKind.ack_timeout)
    assert still_wanted(step, open_=True, acknowledged=False)
    assert not still_wanted(step, open_=True, acknowledged=True)
    assert still_wanted(timeout, open_=True, acknowledged=True)
    assert not still_wanted(timeout, open_=True, acknowledged=False)
    assert not still_wanted(step, open_=False, acknowledged=False)
    assert not still_wanted(timeout, open_=False, acknowledged=True)
