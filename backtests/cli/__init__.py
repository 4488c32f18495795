"""The click command line: one entry point per verb group.

Ctrl-C while the command modules are still being imported ends the process at once with one line and exit code
130 (nothing has been written yet); once a command runs, ``common._Friendly`` restores Python's handler so an
interruption unwinds normally and a run folder under construction is removed.
"""
import os
import signal
import sys


def _interrupted_while_starting(_signum: int, _frame: object) -> None:
    sys.stderr.write("Interrupted: nothing half-written was kept.\n")
    os._exit(130)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # leave handlers set by an embedding program
    signal.signal(signal.SIGINT, _interrupted_while_starting)
