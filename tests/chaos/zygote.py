"""Daemon starts without the import cost: a *zygote* process imports the daemon once, then forks each daemon.

On a loaded 2-core machine importing the daemon stack takes 3-8 s; the chaos harness starts a daemon ~2.5 times
per crash point. The zygote (``python -c ZYGOTE``, no threads, nothing configured) reads one JSON request per line
on stdin, forks, and the child runs ``tests.daemon.crashrig.LAUNCHER`` exactly as ``python -c LAUNCHER`` would, with
its stdout/stderr in the daemon's log, the request's environment, and the crash point it names armed
(``alchemiser.process.crashpoints.arm``, since the module was imported before the fork). The zygote reaps its
children and writes each exit code (negative: the signal) to ``<log>.exit``, which ``ForkedProcess.poll`` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.daemon.crashrig import LAUNCHER

ZYGOTE = """
import json, os, signal, sys, traceback
from pathlib import Path

import asyncio, httpx  # noqa: F401 - imported once here, inherited by every fork
import alchemiser.daemon.daemon, alchemiser.config, alchemiser.logging, alchemiser.clock  # noqa: F401
from alchemiser.process import crashpoints

launcher = sys.argv[1]
exits = {}  # child pid -> its exit-code file

def reap(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        target = exits.pop(pid, None)
        if target is not None:
            tmp = target.with_suffix(".tmp")
            tmp.write_text(str(os.waitstatus_to_exitcode(status)))
            tmp.replace(target)

signal.signal(signal.SIGCHLD, reap)
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # no reaping before the pid is registered
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            out = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            os.chdir(request["cwd"])
            os.environ.update(request["env"])
            point = request["env"].get(crashpoints.ENV_VAR)
            crashpoints.arm(*crashpoints.parse(point)) if point else crashpoints.arm(None)
            sys.argv = ["-c", *request["args"]]
            exec(compile(launcher, "<launcher>", "exec"), {"__name__": "__main__"})
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    exits[pid] = Path(request["log"] + ".exit")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    print(pid, flush=True)
"""


class ForkedProcess:
    """The parts of ``subprocess.Popen`` the crash rig uses, for a daemon the zygote forked."""

    def __init__(self, pid: int, exit_file: Path) -> None:
        self.pid = pid
        self._exit_file = exit_file
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._exit_file.exists():
            self.returncode = int(self._exit_file.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """``spawn(log, env, cwd, args)`` forks a daemon from the pre-imported zygote; ``close()`` ends the zygote."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def spawn(self, log: Path, env: Mapping[str, str], cwd: Path, args: list[str]) -> ForkedProcess:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        log.write_bytes(b"")  # exists before the fork returns (the rig reads it at once); the child appends
        Path(f"{log}.exit").unlink(missing_ok=True)
        request = {"log": str(log), "env": dict(env), "cwd": str(cwd), "args": args}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote exited with {self._proc.wait()}")
        return ForkedProcess(int(line), Path(f"{log}.exit"))

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
