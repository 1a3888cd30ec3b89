"""Duty spot-checks (查岗): at random moments within a shift the duty officer on shift is
asked to confirm being at the post; an unanswered check goes to the leader on shift and is
recorded as a lapse of duty discipline."""
