"""Drills (演练): a plan run for real, marked as a drill, kept out of the real figures."""
