"""Shared helpers of the foundation benchmarks: start a sim daemon in a subprocess with a throw-away store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def variants() -> list[tuple[str, bool]]:
    """Which daemons to measure: ``--bare`` / ``--full`` on the command line, default both."""
    if "--bare" in sys.argv:
        return [("bare foundation", True)]
    if "--full" in sys.argv:
        return [("full sim daemon", False)]
    return [("bare foundation", True), ("full sim daemon", False)]


def positional(index: int, default: float) -> float:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    return float(args[index]) if len(args) > index else default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BARE_DAEMON = """
import asyncio, sys
from alchemiser.config import load_settings
from alchemiser.logging import Redactor, configure_logging
from alchemiser.daemon.daemon import Daemon
settings = load_settings(sys.argv[1], secrets_dir=None)
configure_logging(settings.logging, Redactor())
sys.exit(asyncio.run(Daemon(settings, plugins=[]).run()))
"""


class SimDaemon:
    """``alchemiser run`` in sim mode; ``bare=True`` runs the foundation alone (no plugins: HTTP, store, supervisor)."""

    def __init__(self, workdir: Path | None = None, *, bare: bool = False, control_token: str | None = None) -> None:
        self.bare = bare
        self._tmp = tempfile.TemporaryDirectory(prefix="alchemiser-bench-")
        self.workdir = workdir or Path(self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        strategies = "".join(
            f'[[strategies]]\nfile = "{REPO}/config/strategies/{name}.clj"\nweight = {weight}\n'
            for name, weight in (("nuclear", 0.3), ("tecl", 0.5), ("klm", 0.2))
        )
        token = f'control_token = "{control_token}"\n' if control_token else ""
        self.config = self.workdir / "bench.toml"
        self.config.write_text(
            f'{token}{strategies}[http]\nport = {self.port}\n[store]\npath = "{self.workdir}/store.sqlite"\n'
            '[logging]\nformat = "json"\nlevel = "WARNING"\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
        self.started_at = time.perf_counter()
        command = (
            [sys.executable, "-c", BARE_DAEMON, str(self.config)]
            if self.bare
            else [sys.executable, "-m", "alchemiser.cli.main", "run", "--config", str(self.config)]
        )
        self.proc = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from process start to the first /readyz 200."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return time.perf_counter() - self.started_at
                except httpx.HTTPError:
                    pass
                time.sleep(0.005)
        raise RuntimeError("daemon did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self._tmp.cleanup()


if __name__ == "__main__":
    print("helper module for the foundation benchmarks (nothing to measure)")
