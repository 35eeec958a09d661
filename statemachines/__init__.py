"""One state machine per AIM kind: states, transitions, guards and declared effects. No I/O."""
