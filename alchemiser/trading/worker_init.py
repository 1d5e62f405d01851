"""Initializer of the symphony worker process (a tiny module: a spawned worker imports it before anything else).

The worker shares the daemon's process group, so a Ctrl-C in the terminal reaches it too. Shutdown is the daemon's
job (it stops the pool), so the worker ignores SIGINT instead of dying mid-call with a KeyboardInterrupt traceback.
"""

from __future__ import annotations

import os
import signal


def init_symphony_worker(niceness: int) -> None:
    """Lower the worker's CPU priority by ``niceness`` and leave SIGINT to the daemon."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(niceness)
