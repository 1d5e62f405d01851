"""Initializer of the symphony worker process (a tiny module: a spawned worker imports it before anything else).

The worker shares the daemon's process group, so a Ctrl-C in the terminal reaches it too. Shutdown is the daemon's
job (it stops the pool), so the worker ignores SIGINT instead of dying mid-call with a KeyboardInterrupt traceback.

The worker must never outlive the daemon (a ``kill -9`` of the daemon used to leave it, and multiprocessing's
resource tracker, running under PID 1 for good):

* on Linux the kernel kills it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
* everywhere, a watcher thread exits it within :data:`PARENT_POLL_SECONDS` once its parent pid changes (it was
  re-parented), which also covers the race of the parent dying before ``prctl`` ran;
* it holds an exclusive ``flock`` on the worker lock file beside the store, with its pid in it, so a restarted
  daemon can find and stop a predecessor's worker before it starts (``symphony_worker.stop_predecessor_worker``).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
_held: list[int] = []  # the worker lock's file descriptor, open for the worker's lifetime


def init_symphony_worker(niceness: int, parent_pid: int | None = None, lock_path: str | None = None) -> None:
    """Lower the worker's CPU priority by ``niceness``, leave SIGINT to the daemon, die with ``parent_pid``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(niceness)
    if parent_pid is None:
        return
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    if lock_path is not None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a worker being replaced may hold it for a moment
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _held.append(fd)


def set_parent_death_signal(sig: signal.Signals) -> bool:
    """Ask the Linux kernel to send ``sig`` when the parent dies; ``False`` where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)
