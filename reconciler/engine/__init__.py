"""Pure delivery rules: events, triggers from commits, selectors, lanes, the sequencer.

Nothing in this package performs I/O; the controller feeds it data and carries out the
commands it returns.
"""
