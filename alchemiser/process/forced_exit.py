"""Exiting at once (the daemon's second stop signal) without leaving multiprocessing's resources behind.

``os._exit`` skips the interpreter's exit handlers, and with them multiprocessing's finalizers that unlink the named
semaphores of the symphony worker's pool (a spawn context names them so the worker can open them). Multiprocessing's
resource tracker then finds them when its last user is gone and prints "There appear to be 5 leaked semaphore
objects to clean up at shutdown" on the daemon's stderr. So the children are killed first (a stuck evaluation must
not delay the exit) and only the finalizers that cannot block run: closing queues and unlinking semaphores (those of
priority 0 and up; joining a queue's feeder thread, priority -5, could wait on a full pipe and is skipped).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from multiprocessing import util
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Kill multiprocessing children, release their semaphores, flush stdout/stderr and ``os._exit(code)``."""
    for child in multiprocessing.active_children():
        child.kill()
    util._run_finalizers(0)  # type: ignore[attr-defined]  # multiprocessing's own exit step, without the joins
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
